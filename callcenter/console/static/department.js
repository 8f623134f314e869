// The department liaison's page: its own tickets only (the server scopes every call to the
// token's department): deadlines, evaluations, dissatisfied revisits, hot spots, scorecard.
import { api, button, cell, dateTime, isoDate, loadZone, notify, percent, setToken, token } from "./common.js";

const STATUS_LABELS = {
  accepted: "受理", dispatched: "派单", handling: "办理", replied: "答复",
  reviewed: "审核", closed: "办结", revisited: "回访", evaluated: "评价",
};
const MET = { true: "✓ 达标", false: "✗ 未达标", null: "— 不计" };

const day = (epoch) => (epoch ? dateTime(epoch) : "—"); // in the center's time zone
const isoDay = isoDate; // YYYY-MM-DD in the center's time zone

function rows(id, items, fill) {
  const body = document.querySelector(`#${id} tbody`);
  body.replaceChildren();
  for (const item of items) {
    const tr = document.createElement("tr");
    fill(tr, item);
    body.appendChild(tr);
  }
  if (!items.length) {
    const tr = document.createElement("tr");
    cell(tr, "暂无").colSpan = document.querySelectorAll(`#${id} thead th`).length;
    body.appendChild(tr);
  }
}

function pager(id, page, total, perPage, go) {
  const box = document.getElementById(id);
  box.replaceChildren();
  const pages = Math.max(1, Math.ceil(total / perPage));
  box.append(`第 ${page} / ${pages} 页，共 ${total} 条 `);
  if (page > 1) button(box, "上一页", () => go(page - 1));
  if (page < pages) button(box, "下一页", () => go(page + 1));
}

function ticketRow(tr, t) {
  cell(tr, t.number);
  cell(tr, t.title || "");
  cell(tr, t.topic || "");
  cell(tr, STATUS_LABELS[t.status] || t.status);
  cell(tr, day(t.deadline), t.due_status === "overdue" ? "long" : "");
}

async function overview() {
  const o = await api("/api/department/overview");
  document.getElementById("dept").textContent = "· " + o.department;
  document.getElementById("k-open").textContent = o.open.total;
  document.getElementById("k-overdue").textContent = o.due.overdue;
  document.getElementById("k-soon").textContent = o.due.due_soon;
  const card = o.scorecard;
  document.getElementById("k-score").textContent = card && card.score !== null ? card.score.toFixed(1) : "—";
  for (const [id, key] of [["k-response", "response"], ["k-ontime", "on_time"], ["k-resolution", "resolution"], ["k-satisfaction", "satisfaction"]]) {
    document.getElementById(id).textContent = card ? percent(card.rates[key]) : "—";
  }
  rows("overdue", o.overdue, ticketRow);
  rows("soon", o.due_soon, ticketRow);
  rows("ratings", o.evaluations.by_rating, (tr, r) => { cell(tr, r.rating); cell(tr, r.tickets); });
  document.getElementById("revisits").textContent =
    `近${o.evaluations.days}天办结 ${o.evaluations.closed} 件，已回访 ${o.evaluations.revisited} 件`;
  rows("unhappy", o.dissatisfied, (tr, t) => {
    cell(tr, t.number); cell(tr, t.title || ""); cell(tr, t.topic || "");
    cell(tr, day(t.closed_at)); cell(tr, t.reopens);
  });
  return o;
}

function period() {
  return `from=${document.getElementById("from").value}&to=${document.getElementById("to").value}`;
}

async function hotspots() {
  const dim = document.getElementById("dimension").value;
  const h = await api(`/api/hotspots?dimension=${dim}&${period()}&limit=20`);
  rows("hot", h.ranking, (tr, r) => {
    cell(tr, r.rank);
    const name = cell(tr, "");
    button(name, r.key || "（未填）", () => hotTickets(dim, r.key, 1));
    cell(tr, r.tickets); cell(tr, percent(r.share)); cell(tr, r.previous);
    cell(tr, (r.change > 0 ? "+" : "") + r.change, r.change > 0 ? "long" : "");
    cell(tr, percent(r.relative_change));
  });
}

async function hotTickets(dim, key, page) {
  const perPage = 20;
  const q = `dimension=${dim}&key=${encodeURIComponent(key)}&${period()}&page=${page}&per_page=${perPage}`;
  const t = await api(`/api/hotspots/tickets?${q}`);
  document.getElementById("hot-title").textContent = `“${key || "（未填）"}” 的工单`;
  rows("hot-tickets", t.tickets, (tr, x) => {
    cell(tr, x.number); cell(tr, day(x.created_at)); cell(tr, x.title || "");
    cell(tr, STATUS_LABELS[x.status] || x.status); cell(tr, x.district); cell(tr, x.street);
  });
  pager("hot-pages", page, t.total, perPage, (p) => hotTickets(dim, key, p).catch(fail));
}

async function inputs(page) {
  const perPage = 50;
  const now = new Date();
  const first = isoDay(now).slice(0, 8) + "01"; // the month's first day, in the center's zone
  const t = await api(`/api/scorecard/tickets?from=${first}&to=${isoDay(now)}&page=${page}&per_page=${perPage}`);
  rows("inputs", t.tickets, (tr, x) => {
    cell(tr, x.number);
    for (const c of ["response", "on_time", "resolution", "satisfaction"]) cell(tr, MET[String(x.criteria[c])]);
  });
  pager("input-pages", page, t.total, perPage, (p) => inputs(p).catch(fail));
}

function fail(error) {
  notify(error.id === "api.forbidden" ? "此令牌不是承办单位令牌或未指定单位" : "加载失败：" + error.message, true);
}

async function refresh() {
  notify("");
  await overview();
  await hotspots();
  await inputs(1);
}

document.getElementById("token").value = token();
document.getElementById("token").addEventListener("change", (e) => { setToken(e.target.value); refresh().catch(fail); });
document.getElementById("refresh").addEventListener("click", () => refresh().catch(fail));
document.getElementById("hot-go").addEventListener("click", () => hotspots().catch(fail));
loadZone().then(() => {
  const today = new Date();
  document.getElementById("to").value = isoDay(today);
  document.getElementById("from").value = isoDay(new Date(today.getTime() - 29 * 86400000));
  return refresh();
}).catch(fail);
setInterval(() => overview().catch(fail), 60000); // live: deadlines move
