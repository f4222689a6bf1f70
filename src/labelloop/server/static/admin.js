// Admin / reviewer dashboard: progress, throughput, agreement, skills, review queue, worker, export.
"use strict";

const project = param("project");
const P = "/projects/" + encodeURIComponent(project || "");
const $ = (id) => document.getElementById(id);
let ME = null;
let INFO = null;

const pct = (x) => (x === null || x === undefined ? "–" : (100 * x).toFixed(1) + "%");
const num = (x) => (x === null || x === undefined ? "–" : String(x));

function fillTable(id, rows) {
  const body = $(id).querySelector("tbody");
  body.replaceChildren(...rows);
}

async function loadOverview() {
  const o = await api("GET", `${P}/admin/overview`);
  const dl = $("progress");
  dl.replaceChildren();
  const add = (k, v) => dl.append(el("dt", { text: k }), el("dd", { text: v, "data-key": k }));
  add("items", o.items);
  add("open in queue", o.open);
  add("answered items", o.answered_items);
  add("labelled items", o.labelled_items);
  add("answers", o.answers);
  add("honeypot items", o.gold_items);
  add("complete", pct(o.complete));
  add("last 10 min", o.throughput.last_10_min + " answers");
  add("last hour", o.throughput.last_hour + " answers");
  $("complete-fill").style.width = Math.round(100 * o.complete) + "%";
  const spark = $("spark");
  spark.replaceChildren();
  const max = Math.max(1, ...o.throughput.per_minute);
  for (const v of o.throughput.per_minute) {
    const b = el("span", { title: v + " answers" });
    b.style.height = Math.round((40 * v) / max) + 2 + "px";
    spark.append(b);
  }
  const a = o.agreement;
  $("agreement").textContent = a.pairs ? `${pct(a.pairwise)} pairwise agreement over ${a.items} items answered by two or more people (${a.pairs} pairs)`
    : "no item has two answers yet";
  const w = o.worker;
  $("worker-status").textContent = w ? `${w.running ? "running a round now" : "idle"} · ${w.rounds} rounds · a round every ${w.every} answers` +
    (w.last_error ? ` · last error: ${w.last_error}` : "") : "no worker thread in this server (run `labelloop worker DIR`)";
}

async function loadAnnotators() {
  const rows = await api("GET", `${P}/admin/annotators`);
  fillTable("annotators", rows.map((r) => el("tr", { "data-name": r.name },
    el("td", { text: r.name }), el("td", { text: r.role }), el("td", { text: r.answers }), el("td", { text: r.honeypots }),
    el("td", { class: "hp-acc", text: pct(r.honeypot_accuracy) }), el("td", { text: num(r.weight) }),
    el("td", { text: pct(r.peer_agreement) }), el("td", { text: pct(r.skill) }), el("td", { text: num(r.seconds_per_answer) }),
    el("td", {}, r.paused ? el("span", { class: "badge warn", title: r.paused, text: "paused" }) : "active",
      r.paused && ME.role === "admin" ? el("button", { type: "button", class: "small", onclick: () => resume(r.name), text: "Resume" }) : null))));
}

async function resume(name) {
  await api("POST", `${P}/admin/annotators/${encodeURIComponent(name)}/resume`);
  loadAnnotators();
}

async function loadReview() {
  const rows = await api("GET", `${P}/admin/review?limit=50`);
  fillTable("review", rows.map((r) => el("tr", { class: "clickable", onclick: () => openItem(r.item_id) },
    el("td", { text: r.item_id }), el("td", { text: r.text }), el("td", { text: fmtLabel(r.label) }),
    el("td", { text: pct(r.confidence) }), el("td", { text: r.reason }))));
}

// suspects (or one item) go back into the normal queue: /next serves them first to annotators
// who have not answered them, until each has N more answers
async function requeue(itemIds) {
  const n = parseInt($("requeue-n").value, 10);
  const body = { extra_answers: n };
  if (itemIds) body.item_ids = itemIds;
  try {
    const r = await api("POST", `${P}/admin/review/requeue`, body);
    $("requeue-msg").textContent = `${r.requeued} item(s) sent back for ${r.extra_answers} more answers` +
      (r.gold_skipped ? ` (${r.gold_skipped} gold items left alone)` : "");
  } catch (e) {
    $("requeue-msg").textContent = "Could not re-queue: " + e.message;
  }
  loadReview();
}

async function openItem(id) {
  const it = await api("GET", `${P}/items/${id}`);
  const box = $("review-item");
  box.hidden = false;
  const votes = el("ul", {}, it.votes.map((v) => el("li", {}, `${v.source} (${v.kind}): ${fmtLabel(v.label)}`, v.comment ? ` — “${v.comment}”` : "")));
  const controls = INFO.task === "multi" ? el("p", { class: "muted", text: "Correct multi-label items through the API (POST answers with a list of tags)." })
    : el("div", { class: "choices" }, INFO.classes.map((c) => el("button", { type: "button", class: "choice", onclick: () => correct(id, c) }, c)));
  box.replaceChildren(...[el("h3", { text: `Item ${it.item_id} (${it.external_id})` }), el("p", { class: "item-text", text: it.text || "" }),
    it.image_url ? el("img", { src: it.image_url, alt: "item" }) : null,
    el("p", {}, "Final: ", el("strong", { text: it.final ? fmtLabel(it.final.label) : "–" }), it.final ? ` (${pct(it.final.confidence)}, ${it.final.method})` : ""),
    el("h4", { text: "Votes" }), votes, el("h4", { text: "Your correction" }), controls,
    ME.role === "admin" ? el("p", {}, el("button", { type: "button", class: "small", onclick: () => requeue([id]), text: "Ask more annotators" })) : null].filter(Boolean));
}

async function correct(id, label) {
  await api("POST", `${P}/answers`, { item_id: id, label, comment: "review correction" });
  await openItem(id);
  loadReview();
}

async function loadLFs() {
  const rows = await api("GET", `${P}/admin/labeling-functions`);
  fillTable("lfs", rows.length ? rows.map((r) => el("tr", {}, el("td", { text: r.name }), el("td", { text: r.votes }), el("td", { text: pct(r.coverage) }),
    el("td", { text: pct(r.agreement_with_labels) }))) : [el("tr", {}, el("td", { colspan: 4, class: "muted", text: "no labeling functions applied yet" }))]);
}

function showForecast(runs) {
  const run = runs.find((r) => r.details && r.details.forecast);
  if (!run) return;
  const f = run.details.forecast;
  if (f.error) { $("forecast-text").textContent = "Not yet: " + f.error; return; }
  const facts = Object.entries(f).filter(([k, v]) => k !== "points" && (typeof v !== "object" || v === null))
    .map(([k, v]) => `${k.replace(/_/g, " ")}: ${typeof v === "number" ? Math.round(v * 1000) / 1000 : v}`);
  $("forecast-text").textContent = facts.join(" · ");
  fillTable("curve", (f.points || []).map(([n, a]) => el("tr", {}, el("td", { text: n }), el("td", { text: pct(a) }))));
}

async function loadWorker() {
  const w = await api("GET", `${P}/admin/worker`);
  showForecast(w.runs);
  fillTable("runs", w.runs.map((r) => el("tr", {}, el("td", { text: r.id }), el("td", { text: r.state }), el("td", { text: r.answers }),
    el("td", { text: r.message || "" }), el("td", { class: "details", text: JSON.stringify(r.details).slice(0, 300) }))));
}

const SETTINGS = [
  ["overlap", "number", "annotators per item"], ["max_overlap", "number", "dynamic overlap: at most (0 = off)"],
  ["confidence_target", "number", "confidence target"], ["honeypot_rate", "number", "honeypot rate"],
  ["lease_seconds", "number", "lease (seconds)"], ["honeypot_min", "number", "honeypots before pausing"],
  ["pause_below", "number", "pause below honeypot accuracy"], ["model_accuracy", "number", "model weight (as accuracy)"],
  ["retrain_every", "number", "worker round every K answers"], ["worker_loop", "checkbox", "worker retrains the model"],
  ["blind", "checkbox", "blind mode (hide pre-labels)"],
  ["mode", "select", "mode"],
];

async function loadSettings() {
  const s = await api("GET", `${P}/admin/settings`);
  const form = $("settings-form");
  form.replaceChildren();
  for (const [k, type, label] of SETTINGS) {
    let input;
    if (type === "select") {
      input = el("select", { id: "set-" + k }, ["label", "accept_reject"].map((m) => el("option", { value: m, selected: s[k] === m }, m)));
    } else {
      input = el("input", { id: "set-" + k, type, step: "any", value: type === "checkbox" ? null : s[k], checked: type === "checkbox" && s[k] });
    }
    form.append(el("label", {}, label, input));
  }
  form.append(el("button", { type: "submit", text: "Save settings" }));
}

$("settings-form").addEventListener("submit", async (ev) => {
  ev.preventDefault();
  const body = {};
  for (const [k, type] of SETTINGS) {
    const i = $("set-" + k);
    body[k] = type === "checkbox" ? i.checked : type === "number" ? Number(i.value) : i.value;
  }
  try {
    await api("PUT", `${P}/admin/settings`, body);
    $("settings-msg").textContent = "saved";
  } catch (e) { $("settings-msg").textContent = e.message; }
});

async function loadUsers() {
  const users = await api("GET", "/admin/users");
  $("users").replaceChildren(...users.map((u) => el("li", {}, `${u.name} (${u.role})`, u.paused_reason ? " — paused" : "")));
}

$("user-form").addEventListener("submit", async (ev) => {
  ev.preventDefault();
  try {
    await api("POST", "/admin/users", { name: $("new-user").value, role: $("new-role").value, password: $("new-password").value });
    $("user-msg").textContent = "user added";
    $("user-form").reset();
    loadUsers();
  } catch (e) { $("user-msg").textContent = e.message; }
});

async function refresh() {
  await Promise.all([loadOverview(), loadAnnotators(), loadReview(), loadLFs(), loadWorker()]);
}

$("refresh").addEventListener("click", refresh);
$("requeue-btn").addEventListener("click", () => requeue(null));
$("logout").addEventListener("click", logout);

(async () => {
  if (!project) { location.href = "/ui/index.html"; return; }
  ME = await api("GET", "/me");
  $("user-name").textContent = ME.name;
  if (ME.role === "annotator") { document.body.replaceChildren(el("p", { class: "card error", text: "The dashboard is for reviewers and admins." })); return; }
  INFO = await api("GET", P);
  $("project-name").textContent = INFO.name;
  $("label-link").href = "annotate.html?project=" + encodeURIComponent(project);
  for (const [id, q] of [["export-csv", "format=csv"], ["export-jsonl", "format=jsonl"], ["export-votes", "format=jsonl&votes=true"]]) {
    $(id).href = `/api/v1${P}/admin/export?${q}`;
  }
  if (ME.role === "admin") {
    for (const e of document.querySelectorAll(".admin-only")) e.hidden = false;
    loadSettings();
    loadUsers();
  }
  await refresh();
  setInterval(() => { loadOverview().catch(() => {}); }, 10000);
})();
