// The agent's workspace: status, the call in hand with the caller's history and the live
// transcript, one-key emergency transfer, the ticket draft after the call, pending callbacks.
import { startPhone } from "./phone.js";
import { api, cell, clock, connect, dateTime, loadZone, maskPhone, notify, seconds, setToken, setZone, STATUS, STATE } from "./common.js";

let agentId = sessionStorage.getItem("cc-agent") || "";
let me = null;
let currentCall = null;
let lastCall = sessionStorage.getItem("cc-last-call") || "";
let offset = 0;
let shownTicket = 0;
let shownContent = "";
let callbacksSeen = "";

const $ = (id) => document.getElementById(id);
const HIDDEN = "（按数据保护策略不予显示）";
const CONTENT_PLACEHOLDER = "诉求内容（通话转写自动填入）";
const TRANSCRIPTION_NOTE = {
  live: "",
  after: "通话中不做实时转写：通话结束后转写，结果填入工单草稿。",
  off: "未配置语音识别模型：本通话不转写，请在工单中手工填写诉求内容。",
};
let vocabulary = null; // request types, topics and departments with their names

async function loadVocabulary() {
  if (vocabulary) return vocabulary;
  vocabulary = await api("/api/tickets/vocabulary");
  return vocabulary;
}

// A select's options: [value, label] pairs; a value not in the list (an older ticket's) is
// kept as its own option so nothing is silently changed on submit.
function fillSelect(select, pairs, chosen) {
  select.replaceChildren();
  const known = new Set(pairs.map(([value]) => value));
  if (chosen && !known.has(chosen)) pairs = [[chosen, chosen], ...pairs];
  if (!chosen) pairs = [["", "（请选择）"], ...pairs];
  for (const [value, label] of pairs) {
    const option = document.createElement("option");
    option.value = value;
    option.textContent = label;
    select.appendChild(option);
  }
  select.value = chosen || "";
}

// The classifier's best proposal: lists of [value, ...] best first (a plain value in old rows).
function best(proposed) {
  if (Array.isArray(proposed)) return proposed.length ? String(proposed[0][0]) : "";
  return proposed ? String(proposed) : "";
}

async function action(name, body = {}) {
  try {
    await api(`/api/agents/${agentId}/${name}`, body);
  } catch (e) { notify(`操作失败：${e.message}`, true); }
}

$("sign-in").addEventListener("click", async () => {
  agentId = $("agent-id").value.trim();
  if (!agentId) { notify("请输入工号", true); return; }
  if ($("agent-token").value) setToken($("agent-token").value);
  sessionStorage.setItem("cc-agent", agentId);
  await action("login", { ready: false, reason: "签入" });
  showSignedIn();
});
$("ready").addEventListener("click", () => action("resume"));
$("break").addEventListener("click", () => action("pause", { reason: $("break-reason").value }));
$("wrapup-done").addEventListener("click", () => action("ready"));
$("sign-out").addEventListener("click", () => action("logout"));
for (const b of document.querySelectorAll(".emergency")) {
  b.addEventListener("click", async () => {
    if (!currentCall) return;
    const mode = $("three-way").checked ? "conference" : "blind";
    try {
      await api(`/api/calls/${currentCall}/emergency`, { line: b.dataset.line, mode });
      notify(`正在转接 ${b.dataset.line}（${mode === "blind" ? "直接转接" : "三方通话"}）`);
    } catch (e) { notify(`转接失败：${e.message}`, true); }
  });
}
$("submit-ticket").addEventListener("click", submitTicket);
// 转专席: the caller goes back to waiting for the chosen skill (its place kept); this agent
// drops off and goes to wrap-up
async function loadTransferSkills() {
  try {
    const center = await api("/api/center");
    const select = $("transfer-skill");
    select.replaceChildren(...(center.skills || []).map((s) => {
      const option = document.createElement("option");
      option.value = s.id;
      option.textContent = s.name;
      return option;
    }));
  } catch (e) { notify(`技能列表读取失败：${e.message}`, true); }
}
$("transfer").addEventListener("click", async () => {
  if (!currentCall) return;
  const skill = $("transfer-skill").value;
  const agent = $("transfer-agent").value.trim();
  const name = $("transfer-skill").selectedOptions[0]?.textContent || skill;
  try {
    await api(`/api/calls/${currentCall}/transfer`, agent ? { skill, agent } : { skill });
    notify(`已转接至${name}${agent ? `（座席 ${agent}）` : ""}`);
  } catch (e) { notify(`转接失败：${e.message}`, true); }
});

function showSignedIn() {
  $("login").hidden = true;
  $("status").hidden = false;
  $("me").textContent = `座席 ${agentId}`;
  loadCallbacks();
  loadTransferSkills();
  startPhone(agentId);
}

async function onCall(callId) {
  currentCall = callId;
  lastCall = callId;
  sessionStorage.setItem("cc-last-call", callId);
  $("call").hidden = false;
  $("transcript").replaceChildren();
  try {
    const call = await api(`/api/calls/${callId}`);
    const note = TRANSCRIPTION_NOTE[call.transcription] || "";
    if (note) {
      const p = document.createElement("p");
      p.id = "transcript-note";
      p.className = "note";
      p.textContent = note;
      $("transcript").appendChild(p);
    }
    $("call-caller").textContent = call.caller || "未知";
    $("call-hotline").textContent = call.hotline || call.did;
    $("call-skill").textContent = call.skill_name;
    const body = document.querySelector("#history tbody");
    body.replaceChildren();
    for (const t of call.history) {
      const tr = document.createElement("tr");
      cell(tr, t.number); cell(tr, t.request_type); cell(tr, t.title); cell(tr, t.status_label);
      cell(tr, dateTime(t.created_at));
      body.appendChild(tr);
    }
    if (!call.history.length) {
      const tr = document.createElement("tr");
      cell(tr, "该号码无历史工单").colSpan = 5;
      body.appendChild(tr);
    }
  } catch (e) { notify(`读取来电信息失败：${e.message}`, true); }
}

async function afterCall() {
  currentCall = null;
  $("call-state").textContent = "（已结束）";
  // the call's ticket is made when the call is over: find it and show it pre-filled
  for (let i = 0; i < 20 && lastCall; i++) {
    try {
      const found = await api(`/api/tickets?call_id=${encodeURIComponent(lastCall)}`);
      if (found.tickets.length) { await showTicket(found.tickets[0].id); return; }
    } catch (e) { notify(`读取工单失败：${e.message}`, true); return; }
    await new Promise((r) => setTimeout(r, 500));
  }
}

async function showTicket(id) {
  const t = await api(`/api/tickets/${id}`);
  shownTicket = id;
  $("ticket").hidden = false;
  $("ticket-number").textContent = t.number;
  // a field the data protection policy hides from this role is absent from the answer
  const proposal = t.proposal || {};
  $("t-caller").value = "caller_number" in t ? maskPhone(t.caller_number) : HIDDEN;
  $("t-hotline").value = t.hotline || "";
  $("t-title").value = t.title || "";
  $("t-title").placeholder = "title" in t ? "" : HIDDEN;
  $("t-content").value = t.content || "";
  $("t-content").placeholder = "content" in t ? CONTENT_PLACEHOLDER : HIDDEN;
  shownContent = (t.content || "").trim();
  const words = await loadVocabulary();
  fillSelect(
    $("t-type"),
    words.request_types.map((x) => [x, x]),
    t.request_type || best(proposal.request_type) || words.default_type,
  );
  fillSelect(
    $("t-topic"),
    words.topics.map((x) => [x.id, x.name]),
    t.topic || best(proposal.topic),
  );
  fillSelect(
    $("t-department"),
    words.departments.map((x) => [x.id, x.name]),
    t.department || proposal.department || best(proposal.departments),
  );
}

async function submitTicket() {
  if (!shownTicket) return;
  try {
    const t = await api(`/api/tickets/${shownTicket}/confirm`, {
      request_type: $("t-type").value,
      topic: $("t-topic").value,
      department: $("t-department").value,
    });
    const content = $("t-content").value.trim();
    if (content && content !== shownContent) {
      await api(`/api/tickets/${shownTicket}/comments`, { text: `座席补充：${content}` });
    }
    notify(`工单 ${t.number} 已提交`);
    $("ticket").hidden = true;
    shownTicket = 0;
  } catch (e) { notify(`提交失败：${e.message}`, true); }
}

async function loadCallbacks() {
  try {
    const found = await api("/api/callbacks");
    const body = document.querySelector("#callbacks tbody");
    body.replaceChildren();
    for (const c of found.callbacks.filter((x) => ["waiting", "scheduled", "dialing"].includes(x.state))) {
      const tr = document.createElement("tr");
      cell(tr, c.number); cell(tr, c.skill);
      cell(tr, { waiting: "排队中", scheduled: "待重拨", dialing: "回拨中" }[c.state]);
      cell(tr, c.attempts); cell(tr, c.due_at ? clock(c.due_at) : "—");
      body.appendChild(tr);
    }
  } catch (e) { /* the list is a convenience: the feed keeps working */ }
}

function renderMe() {
  if (!me) return;
  $("my-status").textContent = STATUS[me.status] + (me.reason ? `（${me.reason}）` : "");
  $("my-state").textContent = me.status === "logged_out" ? "—" : STATE[me.state];
  $("my-since").textContent = me.since ? seconds(Date.now() / 1000 + offset - me.since) : "";
}

loadZone();
if (agentId) showSignedIn();
connect((message) => {
  if (message.type === "transcript") {
    if (message.call_id !== currentCall || !message.final) return;
    const p = document.createElement("p");
    p.className = message.speaker;
    p.textContent = `${message.speaker === "caller" ? "市民" : "座席"}：${message.text}`;
    $("transcript").appendChild(p);
    return;
  }
  if (message.type !== "snapshot" || !agentId) return;
  offset = message.now - Date.now() / 1000;
  setZone(message.timezone);
  me = message.agents.find((a) => a.agent_id === agentId) || null;
  renderMe();
  const call = me && me.calls.length ? me.calls[0] : null;
  if (call && call !== currentCall) onCall(call);
  else if (!call && currentCall) afterCall();
  if (currentCall) $("call-state").textContent = "（通话中）";
  // the list is read again only when the callbacks in the queue change, not on every push
  const queued = message.waiting.filter((w) => w.callback).map((w) => w.call_id).join(",");
  if (queued !== callbacksSeen) { callbacksSeen = queued; loadCallbacks(); }
}, (up) => {
  $("link").textContent = up ? "● 实时连接" : "● 未连接";
  $("link").className = up ? "up" : "down";
});
setInterval(renderMe, 1000);
