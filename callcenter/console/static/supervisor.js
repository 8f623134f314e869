// The supervisor's wallboard: everything comes pushed over the live feed; clocks tick locally.
import { api, button, cell, connect, notify, percent, seconds, setToken, token, STATUS, STATE, CALL_STATE } from "./common.js";

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
  for (const w of last.waiting) {
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
  drawChart(last.series);
  const ap = last.auto_pause || { alert: false };
  const pause = document.getElementById("auto-pause");
  pause.hidden = !ap.alert;
  pause.textContent = ap.alert
    ? `警告：${ap.logged_in} 名在线坐席中有 ${ap.paused} 名因未接听被自动暂停，请检查话机并恢复坐席`
    : "";
  const link = document.getElementById("link");
  const down = Object.entries(last.pbx).filter(([, up]) => !up).map(([n]) => n);
  if (down.length) link.textContent = "● 交换机断开：" + down.join("、");
}

function drawChart(series) {
  const svg = document.getElementById("chart");
  const peak = Math.max(1, ...series.map((s) => s.joined));
  const width = 960 / series.length;
  const parts = [];
  series.forEach((s, i) => {
    const x = i * width;
    for (const [key, color, shift] of [["joined", "#17406d", 0], ["answered", "#1e8449", 1 / 3], ["abandoned", "#c0392b", 2 / 3]]) {
      const h = (140 * s[key]) / peak;
      if (h > 0) parts.push(`<rect x="${x + shift * width}" y="${140 - h}" width="${width / 3}" height="${h}" fill="${color}"></rect>`);
    }
    if (i % 8 === 0) parts.push(`<text x="${x}" y="155">${String(i / 4).padStart(2, "0")}:00</text>`);
  });
  svg.innerHTML = parts.join("");
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
  for (const w of found) {
    const row = body.insertRow();
    cell(row, LEVEL[w.level] || w.level, `level-${w.level}`);
    cell(row, w.title);
    cell(row, String(w.tickets));
    cell(row, new Date(w.detected_at * 1000).toLocaleString("zh-CN"));
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
loadWarnings();
setInterval(loadWarnings, 30000);
