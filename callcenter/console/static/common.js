// Shared by the console pages: the API token, JSON calls, the pushed live feed, formatting.
export const STATUS = { available: "在线", on_break: "小休", logged_out: "签出" };
export const STATE = { idle: "空闲", offered: "振铃", on_call: "通话中", wrap_up: "整理" };
export const CALL_STATE = { waiting: "排队", offered: "振铃", connected: "通话" };

export function token() {
  return sessionStorage.getItem("cc-token") || "";
}

export function setToken(value) {
  sessionStorage.setItem("cc-token", value.trim());
}

export async function api(path, body = undefined) {
  const headers = { "Content-Type": "application/json" };
  if (token()) headers.Authorization = "Bearer " + token();
  const response = await fetch(path, {
    method: body === undefined ? "GET" : "POST",
    headers,
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const data = await response.json().catch(() => ({}));
  if (!response.ok) {
    const error = new Error(data.message || response.statusText);
    error.id = data.error_id || "http." + response.status;
    throw error;
  }
  return data;
}

// The live feed: `onMessage` gets every pushed message; reconnects after a drop.
export function connect(onMessage, onState) {
  let delay = 500;
  const open = () => {
    const scheme = location.protocol === "https:" ? "wss" : "ws";
    const query = token() ? "?access_token=" + encodeURIComponent(token()) : "";
    const ws = new WebSocket(`${scheme}://${location.host}/api/live${query}`);
    ws.onopen = () => { delay = 500; onState(true); };
    ws.onmessage = (event) => onMessage(JSON.parse(event.data));
    ws.onclose = () => {
      onState(false);
      setTimeout(open, delay);
      delay = Math.min(delay * 2, 10000);
    };
  };
  open();
}

export function seconds(value) {
  if (value === null || value === undefined) return "—";
  const s = Math.max(0, Math.round(value));
  const m = Math.floor(s / 60);
  return m ? `${m}分${String(s % 60).padStart(2, "0")}秒` : `${s}秒`;
}

export function percent(value) {
  return value === null || value === undefined ? "—" : (100 * value).toFixed(1) + "%";
}

// Every time a console shows is in the center's time zone (center.toml), not the browser's.
let zone = "Asia/Shanghai";

export function setZone(timezone) {
  if (timezone) zone = timezone;
}

export async function loadZone() {
  try { setZone((await api("/api/center")).timezone); } catch (e) { /* snapshots carry it too */ }
}

export function clock(epoch) {
  return new Date(epoch * 1000).toLocaleTimeString("zh-CN", { hour12: false, timeZone: zone });
}

export function dateTime(epoch) {
  return new Date(epoch * 1000).toLocaleString("zh-CN", { hour12: false, timeZone: zone });
}

// YYYY-MM-DD of a date in the center's time zone.
export function isoDate(date) {
  return date.toLocaleDateString("sv-SE", { timeZone: zone });
}

export function cell(row, text, className = "") {
  const td = document.createElement("td");
  td.textContent = text;
  if (className) td.className = className;
  row.appendChild(td);
  return td;
}

export function button(parent, text, onClick, className = "") {
  const b = document.createElement("button");
  b.textContent = text;
  b.className = className;
  b.addEventListener("click", onClick);
  parent.appendChild(b);
  return b;
}

export function notify(text, isError = false) {
  const box = document.getElementById("notice");
  box.textContent = text;
  box.className = isError ? "notice error" : "notice";
}

// 138****5678, as the server masks numbers (callcenter/masking.py).
export function maskPhone(number) {
  const digits = (number || "").trim();
  if (!digits) return "";
  if (digits.length >= 11) return digits.slice(0, 3) + "*".repeat(digits.length - 7) + digits.slice(-4);
  if (digits.length <= 2) return "*".repeat(digits.length);
  return "*".repeat(digits.length - 2) + digits.slice(-2);
}
