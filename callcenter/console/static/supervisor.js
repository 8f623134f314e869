// The supervisor's wallboard: everything comes pushed over the live feed; clocks tick locally.
import { api, button, cell, connect, dateTime, loadZone, notify, percent, seconds, setToken, setZone, token, STATUS, STATE, CALL_STATE } from "./common.js";

// A wall screen shows at most this many waiting callers: the QUEUE_LONGEST longest waits
// whatever their priority, then those first in line (the highest priorities, then the longest
// waits); the rest are counted.
const QUEUE_ROWS = 12;
const QUEUE_LONGEST = 3;

let last = null;
let offset = 0; // server clock minus ours

const skillName = (id) => (last && last.skill_names && last.skill_names[id]) || id;

function render() {
  if (!last) return;
  const now = Date.now() / 1000 + offset;
  const overall = last.skills["*"] || {};
  const live = last.waiting.filter((w) => !w.callback);
  document.getElementById("k-waiting").textContent = live.length;
  const longest = Math.max(0, ...live.map((w) => now - w.arrived_at));
  const kLongest = document.getElementById("k-longest");
  kLongest.textContent = live.length ? seconds(longest) : "—";
  kLongest.className = longest > 15 ? "value long" : "value";
  document.getElementById("k-sl15").textContent = percent(overall.service_level_15);
  document.getElementById("k-sl20").textContent = percent(overall.service_level_20);
  document.getElementById("k-answer").textContent = percent(overall.answer_rate);
  document.getElementById("k-abandon").textContent = percent(overall.abandon_rate);
  document.getElementById("k-avg").textContent = seconds(overall.average_wait);
  document.getElementById("k-handled").textContent = overall.handled || 0;
  const missed = last.missed_callbacks || {};
  document.getElementById("k-missed").textContent = missed.missed || 0;
  document.getElementById("k-missed-rate").textContent = percent(missed.rate);
  document.getElementById("k-missed-time").textContent =
    missed.p50 === null || missed.p50 === undefined ? "—" : `${seconds(missed.p50)} / ${seconds(missed.p90)}`;

  const queue = document.querySelector("#queue tbody");
  queue.replaceChildren();
  // the longest waits always (even behind higher priorities), then the queue's order
  const shown = new Set(
    [...live].sort((a, b) => a.arrived_at - b.arrived_at).slice(0, QUEUE_LONGEST).map((w) => w.call_id),
  );
  for (const w of last.waiting) {
    if (shown.size >= QUEUE_ROWS) break;
    shown.add(w.call_id);
  }
  const rest = last.waiting.length - shown.size;
  document.getElementById("queue-note").textContent = last.waiting.length
    ? `共 ${last.waiting.length} 位（含回拨任务 ${last.waiting.length - live.length} 位）`
    : "";
  for (const w of last.waiting.filter((x) => shown.has(x.call_id))) {
    const tr = document.createElement("tr");
    tr.dataset.call = w.call_id;
    cell(tr, w.position);
    cell(tr, w.caller || "—");
    cell(tr, w.hotline || w.did);
    cell(tr, skillName(w.skill));
    cell(tr, w.priority);
    const wait = now - w.arrived_at;
    cell(tr, seconds(wait), wait > 15 && !w.callback ? "long wait" : "wait");
    cell(tr, w.missed ? "漏接回拨" : w.callback ? "预约回拨" : CALL_STATE[w.state] || w.state);
    const actions = cell(tr, "");
    if (!w.callback) {
      button(actions, "提高优先级", () => changePriority(w.call_id, w.priority + 5));
    }
    queue.appendChild(tr);
  }
  if (rest > 0) {
    const tr = document.createElement("tr");
    tr.className = "rest";
    tr.id = "queue-rest";
    cell(tr, `另有 ${rest} 位来电在排队（未逐条显示）`).colSpan = 8;
    queue.appendChild(tr);
  }

  const agents = document.querySelector("#agents tbody");
  agents.replaceChildren();
  for (const a of last.agents) {
    const tr = document.createElement("tr");
    tr.dataset.agent = a.agent_id;
    cell(tr, a.agent_id);
    cell(tr, a.name);
    const cls = a.status === "available" ? "online" : a.status === "on_break" ? "away" : "off";
    const notes = [a.reason === "no_answer" ? "未接听自动暂停" : a.reason];
    if (a.status !== "logged_out" && a.reachable === false) notes.push("话机不可达");
    const note = notes.filter(Boolean).join("，");
    cell(tr, STATUS[a.status] + (note ? `（${note}）` : ""), cls);
    cell(tr, a.status === "logged_out" ? "—" : STATE[a.state] || a.state, "state");
    cell(tr, a.since ? seconds(now - a.since) : "—");
    cell(tr, a.calls_taken);
    const spy = cell(tr, "");
    if (a.calls.length) {
      for (const [mode, text] of [["listen", "监听"], ["whisper", "密语"], ["barge", "强插"]]) {
        button(spy, text, () => listen(a.calls[0], mode), "spy-" + mode);
      }
    }
    const force = cell(tr, "");
    button(force, "置闲", () => setAgent(a.agent_id, "resume"));
    button(force, "小休", () => setAgent(a.agent_id, "pause", "班长置小休"));
    button(force, "签出", () => setAgent(a.agent_id, "logout"));
    agents.appendChild(tr);
  }

  const skills = document.querySelector("#skills tbody");
  skills.replaceChildren();
  for (const [skill, f] of Object.entries(last.skills)) {
    const tr = document.createElement("tr");
    cell(tr, skill === "*" ? "全部" : skillName(skill));
    cell(tr, f.joined); cell(tr, f.answered); cell(tr, f.abandoned); cell(tr, f.callbacks);
    cell(tr, percent(f.service_level_15)); cell(tr, percent(f.service_level_20));
    cell(tr, seconds(f.average_wait));
    skills.appendChild(tr);
  }
  const ap = last.auto_pause || { alert: false };
  const pause = document.getElementById("auto-pause");
  pause.hidden = !ap.alert;
  pause.textContent = ap.alert
    ? `警告：${ap.logged_in} 名在线坐席中有 ${ap.paused} 名因未接听被自动暂停，请检查话机并恢复坐席`
    : "";
  const link = document.getElementById("link");
  const down = Object.entries(last.pbx).filter(([, up]) => !up).map(([n]) => n);
  if (down.length) link.textContent = "● 交换机断开：" + down.join("、");
  // an active/standby pair: which engine this page is served by (a standby serves no console)
  const role = document.getElementById("role");
  role.hidden = last.role !== "active";
  role.textContent = last.role === "active" ? "主备引擎：本机为主用" : "";
}

// Today's charts for the chosen skill, read every 15 s (a slot is 15 minutes long): bars of
// calls, a line of the average wait, a line of the 15-second service level, each with axes.
const W = 640, H = 200, LEFT = 44, RIGHT = 8, TOP = 10, BOTTOM = 24;

function niceMax(value) {
  if (value <= 0) return 1;
  const step = 10 ** Math.floor(Math.log10(value));
  for (const m of [1, 2, 5, 10]) if (value <= m * step) return m * step;
  return 10 * step;
}

function axes(parts, slots, top, unit) {
  const plotH = H - TOP - BOTTOM, plotW = W - LEFT - RIGHT;
  for (let k = 0; k <= 4; k++) {
    const y = TOP + plotH - (plotH * k) / 4;
    const value = (top * k) / 4;
    parts.push(`<line class="grid" x1="${LEFT}" x2="${W - RIGHT}" y1="${y}" y2="${y}"></line>`);
    const label = String(Number(value.toFixed(2)));
    parts.push(`<text class="y-tick" x="${LEFT - 4}" y="${y + 3}" text-anchor="end">${label}</text>`);
  }
  parts.push(`<text class="y-unit" x="2" y="${TOP + 8}">${unit}</text>`);
  parts.push(`<line class="axis" x1="${LEFT}" x2="${LEFT}" y1="${TOP}" y2="${TOP + plotH}"></line>`);
  parts.push(`<line class="axis" x1="${LEFT}" x2="${W - RIGHT}" y1="${TOP + plotH}" y2="${TOP + plotH}"></line>`);
  for (let hour = 0; hour <= 24; hour += 3) {
    const x = LEFT + (plotW * hour * 4) / slots;
    const anchor = hour === 24 ? "end" : hour === 0 ? "start" : "middle";
    parts.push(`<text class="x-tick" x="${x}" y="${H - 8}" text-anchor="${anchor}">${String(hour).padStart(2, "0")}:00</text>`);
  }
  return { plotH, plotW };
}

function barChart(svg, series) {
  const parts = [];
  const top = niceMax(Math.max(0, ...series.map((s) => s.joined)));
  const { plotH, plotW } = axes(parts, series.length, top, "次");
  const width = plotW / series.length;
  series.forEach((s, i) => {
    const x = LEFT + i * width;
    for (const [key, color, shift] of [["joined", "#17406d", 0], ["answered", "#1e8449", 1 / 3], ["abandoned", "#c0392b", 2 / 3]]) {
      const h = (plotH * s[key]) / top;
      if (h > 0) parts.push(`<rect x="${x + shift * width}" y="${TOP + plotH - h}" width="${width / 3}" height="${h}" fill="${color}"><title>${key}: ${s[key]}</title></rect>`);
    }
  });
  svg.innerHTML = parts.join("");
}

function lineChart(svg, values, unit, fixedTop, color) {
  const parts = [];
  const top = fixedTop || niceMax(Math.max(0, ...values.filter((v) => v !== null)));
  const { plotH, plotW } = axes(parts, values.length, top, unit);
  const width = plotW / values.length;
  let path = "";
  values.forEach((v, i) => {
    if (v === null) { path += " "; return; }
    const x = LEFT + (i + 0.5) * width, y = TOP + plotH - (plotH * Math.min(v, top)) / top;
    path += (path.endsWith(" ") || !path ? "M" : "L") + `${x.toFixed(1)},${y.toFixed(1)}`;
    parts.push(`<circle cx="${x.toFixed(1)}" cy="${y.toFixed(1)}" r="2" fill="${color}"><title>${v.toFixed(1)} ${unit}</title></circle>`);
  });
  parts.push(`<path d="${path.trim()}" fill="none" stroke="${color}" stroke-width="1.5"></path>`);
  svg.innerHTML = parts.join("");
}

async function loadCharts() {
  const skill = document.getElementById("chart-skill").value || "*";
  let data;
  try {
    data = await api(`/api/wallboard/series?skill=${encodeURIComponent(skill)}`);
  } catch (e) { return; } // a role without the wallboard: no charts
  setZone(data.timezone);
  document.getElementById("chart-zone").textContent = `${data.day}，${data.timezone}`;
  const series = data.series;
  barChart(document.getElementById("chart-calls"), series);
  lineChart(document.getElementById("chart-wait"), series.map((s) => (s.answered ? s.wait_total / s.answered : null)), "秒", 0, "#b9770e");
  lineChart(document.getElementById("chart-sl"), series.map((s) => (s.answered ? (100 * s.within_15) / s.answered : null)), "%", 100, "#1e8449");
}

async function changePriority(callId, priority) {
  try {
    await api(`/api/calls/${callId}/priority`, { priority });
    notify(`已调整 ${callId} 的优先级为 ${priority}`);
  } catch (e) { notify(`调整失败：${e.message}`, true); }
}

async function setAgent(agentId, action, reason = "") {
  try {
    await api(`/api/agents/${agentId}/${action}`, reason ? { reason } : {});
    notify(`已对座席 ${agentId} 执行：${{ resume: "置闲", pause: "小休", logout: "签出" }[action]}`);
  } catch (e) { notify(`操作失败：${e.message}`, true); }
}

async function listen(callId, mode) {
  const extension = document.getElementById("phone").value;
  if (!extension) { notify("请先选择班长话机", true); return; }
  try {
    await api(`/api/calls/${callId}/spy`, { mode, extension });
    notify(`正在呼叫班长话机 ${extension}（${{ listen: "监听", whisper: "密语", barge: "强插" }[mode]}）`);
  } catch (e) { notify(`监听失败：${e.message}`, true); }
}

const LEVEL = { blue: "蓝", yellow: "黄", orange: "橙", red: "红" };
const WARNING_STATE = { open: "待确认", acknowledged: "已确认", escalated: "已督办", closed: "已关闭" };

async function loadWarnings() {
  const body = document.querySelector("#warnings tbody");
  let found;
  try {
    found = (await api("/api/alerts?limit=50")).warnings.filter((w) => w.state !== "closed");
  } catch (e) { return; }  // a role without warnings: the table stays empty
  body.replaceChildren();
  if (!found.length) cell(body.insertRow(), "暂无未处理的预警").colSpan = 7;
  for (const w of found) {
    const row = body.insertRow();
    cell(row, LEVEL[w.level] || w.level, `level-${w.level}`);
    cell(row, w.title);
    cell(row, String(w.tickets));
    cell(row, dateTime(w.detected_at));
    cell(row, WARNING_STATE[w.state] || w.state);
    const link = document.createElement("a");
    link.href = `/api/alerts/${w.id}`;
    link.target = "_blank";
    link.textContent = "查看";
    row.insertCell().appendChild(link);
    const actions = row.insertCell();
    if (w.state === "open") button(actions, "确认", () => warningAction(w.id, "ack", "已确认"));
    if (w.ticket_id === null) button(actions, "转督办", () => warningAction(w.id, "supervise", "已转督办", { note: `预警督办：${w.title}` }));
    if (w.report_id === null) button(actions, "生成专报", () => warningAction(w.id, "report", "已申请专报"));
  }
}

async function warningAction(id, action, done, body = {}) {
  try {
    await api(`/api/alerts/${id}/${action}`, body);
    notify(`预警 ${id}：${done}`);
  } catch (e) { notify(`预警 ${id} 处置失败：${e.message}`, true); }
  loadWarnings();
}

document.getElementById("token").value = token();
document.getElementById("token").addEventListener("change", (e) => { setToken(e.target.value); location.reload(); });

connect((message) => {
  if (message.type !== "snapshot") return;
  offset = message.now - Date.now() / 1000;
  setZone(message.timezone);
  const skills = document.getElementById("chart-skill");
  if (skills.options.length === 1) {
    for (const [id, name] of Object.entries(message.skill_names || {})) skills.add(new Option(name, id));
  }
  const phones = document.getElementById("phone");
  if (!phones.options.length) {
    for (const p of message.supervisors || []) phones.add(new Option(`${p.name}（${p.extension}）`, p.extension));
  }
  last = message;
  render();
}, (up) => {
  const link = document.getElementById("link");
  link.textContent = up ? "● 实时连接" : "● 未连接";
  link.className = up ? "up" : "down";
});
setInterval(render, 1000);
document.getElementById("chart-skill").addEventListener("change", loadCharts);
loadZone().then(() => { loadWarnings(); loadCharts(); });
setInterval(loadWarnings, 30000);
setInterval(loadCharts, 15000);
