// Annotator page: keyboard first, next item prefetched, pre-labels pre-filled.
"use strict";

const project = param("project");
const P = "/projects/" + encodeURIComponent(project || "");
const $ = (id) => document.getElementById(id);

const S = {
  info: null,
  cur: null,          // item on screen
  nextP: null,        // promise of the prefetched item (or null)
  shownAt: 0,
  busy: false,
  selected: [],       // multi-label: tags chosen explicitly
  preselected: null,  // single-label: class pre-filled from the pre-label
  rejecting: false,
  sugg: [],
  suggIdx: 0,
  entries: [],        // multi-label: [{text, tag}] for type-ahead (tags and aliases)
  ancestors: {},      // tag -> [ancestors]
  aliases: {},        // alias -> tag
};

function norm(t) { return String(t).trim().toLowerCase().replace(/[\s_]+/g, "-"); }

function buildTaxonomy(info) {
  const parents = {};
  const tags = new Set(info.classes);
  for (const r of info.taxonomy || []) {
    tags.add(r.tag);
    parents[r.tag] = r.parents || [];
    for (const a of r.aliases || []) S.aliases[a] = r.tag;
  }
  const anc = (t, seen = new Set()) => {
    for (const p of parents[t] || []) if (!seen.has(p)) { seen.add(p); anc(p, seen); }
    return seen;
  };
  for (const t of tags) S.ancestors[t] = [...anc(t)];
  S.entries = [...tags].sort().map((t) => ({ text: t, tag: t }));
  for (const [a, t] of Object.entries(S.aliases)) S.entries.push({ text: a, tag: t });
}

function canonical(t) {
  const n = norm(t);
  if (S.ancestors[n] !== undefined) return n;
  return S.aliases[n] || null;
}

function withParents(tags) {
  const out = new Set();
  for (const t of tags) { out.add(t); for (const a of S.ancestors[t] || []) out.add(a); }
  return [...out].sort();
}

// ------------------------------------------------------------------ rendering
function setProgress(p) {
  if (!p) return;
  const total = p.done + p.remaining;
  $("progress-fill").style.width = (total ? Math.round((100 * p.done) / total) : 100) + "%";
  $("progress-text").textContent = `${p.done} done · ${p.remaining} left`;
}

function say(msg) { $("message").textContent = msg || ""; }

function showPaused(text) {
  $("workspace").hidden = true;
  $("paused").hidden = false;
  $("paused-text").textContent = text;
}

function show(item) {
  S.cur = item;
  S.rejecting = false;
  S.selected = [];
  S.preselected = null;
  $("comment").value = "";
  $("comment-box").hidden = true;
  if (!item) {
    $("item").hidden = true;
    for (const id of ["single-box", "multi-box", "accept-box"]) $(id).hidden = true;
    $("status").textContent = "All done: nothing left for you in this project. Thank you!";
    $("status").dataset.state = "done";
    return;
  }
  $("status").textContent = "";
  $("status").dataset.state = "item";
  $("item").hidden = false;
  $("item").dataset.itemId = item.item_id;
  $("item-text").textContent = item.text || "";
  const img = $("item-image");
  if (item.image_url) { img.src = item.image_url; img.hidden = false; } else { img.removeAttribute("src"); img.hidden = true; }
  setProgress(item.progress);
  const pre = item.previous_label !== null && item.previous_label !== undefined ? item.previous_label
    : (item.prelabel ? item.prelabel.label : null);
  const multi = S.info.task === "multi";
  const acceptMode = S.info.mode === "accept_reject" && item.prelabel && item.previous_label == null;
  $("accept-box").hidden = !acceptMode;
  if (acceptMode) {
    $("accept-label").textContent = fmtLabel(item.prelabel.label);
    $("accept-conf").textContent = item.prelabel.confidence != null ? `(${Math.round(item.prelabel.confidence * 100)}%)` : "";
  }
  $("single-box").hidden = multi || acceptMode;
  $("multi-box").hidden = !multi || acceptMode;
  if (multi) {
    S.selected = pre ? (Array.isArray(pre) ? pre : [pre]).map(canonical).filter(Boolean) : [];
    renderChips();
    $("tag-input").value = "";
    renderSuggestions();
    if (!acceptMode) $("tag-input").focus();
  } else {
    S.preselected = pre;
    renderClassButtons();
    document.activeElement && document.activeElement.blur && document.activeElement.blur();
  }
  S.shownAt = performance.now();
}

function renderClassButtons() {
  const box = $("class-buttons");
  box.replaceChildren();
  S.info.classes.forEach((c, i) => {
    const key = i < 9 ? String(i + 1) : i === 9 ? "0" : "";
    const b = el("button", { type: "button", class: "choice" + (c === S.preselected ? " prefilled" : ""), "data-label": c,
      onclick: () => submit(c) }, key ? el("kbd", { text: key }) : null, " " + c);
    box.append(b);
  });
}

function renderChips() {
  const box = $("chips");
  box.replaceChildren();
  const explicit = new Set(S.selected);
  for (const t of withParents(S.selected)) {
    box.append(el("span", { class: "chip" + (explicit.has(t) ? "" : " implied"), "data-tag": t,
      title: explicit.has(t) ? "click to remove" : "added because a child tag implies it" },
      t, explicit.has(t) ? el("button", { type: "button", class: "x", "aria-label": "remove " + t, onclick: () => removeTag(t) }, "×") : null));
  }
}

function renderSuggestions() {
  const q = norm($("tag-input").value);
  const list = $("suggestions");
  list.replaceChildren();
  S.sugg = [];
  if (!q) return;
  const starts = [], contains = [];
  for (const e of S.entries) {
    if (e.text.startsWith(q)) starts.push(e);
    else if (e.text.includes(q)) contains.push(e);
  }
  const seen = new Set();
  for (const e of starts.concat(contains)) {
    if (seen.has(e.tag) || S.selected.includes(e.tag)) continue;
    seen.add(e.tag);
    S.sugg.push(e);
    if (S.sugg.length >= 8) break;
  }
  S.suggIdx = 0;
  S.sugg.forEach((e, i) => {
    list.append(el("li", { class: i === 0 ? "active" : "", role: "option", "data-tag": e.tag, onmousedown: (ev) => { ev.preventDefault(); addTag(e.tag); } },
      e.text === e.tag ? e.tag : `${e.text} → ${e.tag}`));
  });
}

function moveSuggestion(d) {
  if (!S.sugg.length) return;
  S.suggIdx = (S.suggIdx + d + S.sugg.length) % S.sugg.length;
  [...$("suggestions").children].forEach((li, i) => li.classList.toggle("active", i === S.suggIdx));
}

function addTag(tag) {
  if (tag && !S.selected.includes(tag)) S.selected.push(tag);
  $("tag-input").value = "";
  renderChips();
  renderSuggestions();
  $("tag-input").focus();
}

function removeTag(tag) {
  S.selected = S.selected.filter((t) => t !== tag);
  renderChips();
  $("tag-input").focus();
}

// ------------------------------------------------------------------ actions
function prefetch() {
  if (!S.cur) { S.nextP = null; return; }
  const after = S.cur.item_id;
  S.nextP = api("GET", `${P}/next?after=${after}`).then((it) => {
    if (it && it.image_url) { const im = new Image(); im.src = it.image_url; }
    return it;
  }).catch((e) => { if (e.status === 403) showPaused(e.message); return null; });
}

async function advance(progress) {
  let nxt = S.nextP ? await S.nextP : null;
  if (!nxt) nxt = await api("GET", `${P}/next`);
  show(nxt);
  if (progress) setProgress(progress);  // fresher than the prefetched item's
  prefetch();
}

async function submit(label) {
  if (S.busy || !S.cur) return;
  S.busy = true;
  say("");
  const body = { item_id: S.cur.item_id, label };
  const comment = $("comment").value.trim();
  if (comment) body.comment = comment;
  body.seconds = Math.round((performance.now() - S.shownAt) / 100) / 10;
  try {
    const res = await api("POST", `${P}/answers`, body);
    if (res && res.paused) { showPaused(res.paused); return; }
    await advance(res && res.progress);
  } catch (e) {
    if (e.status === 403) showPaused(e.message);
    else say(e.message);
  } finally {
    S.busy = false;
  }
}

function submitTags() {
  const typed = $("tag-input").value.trim();
  if (typed) {
    const c = canonical(typed);
    if (c) addTag(c); else { say(`unknown tag '${typed}'`); return; }
  }
  if (!S.selected.length) { say("pick at least one tag (or skip)"); return; }
  submit(withParents(S.selected));
}

async function skip() {
  if (S.busy || !S.cur) return;
  S.busy = true;
  try {
    await api("POST", `${P}/skip`, { item_id: S.cur.item_id });
    await advance();
  } catch (e) { say(e.message); } finally { S.busy = false; }
}

async function undo() {
  if (S.busy) return;
  S.busy = true;
  try {
    const item = await api("POST", `${P}/undo`);
    show(item);
    prefetch();
    say("Undone: answer this item again.");
  } catch (e) { say(e.message); } finally { S.busy = false; }
}

function toggleComment() {
  const box = $("comment-box");
  box.hidden = !box.hidden;
  if (!box.hidden) $("comment").focus();
}

function accept() {
  if (!S.cur || !S.cur.prelabel) return;
  submit(S.cur.prelabel.label);
}

function reject() {
  if (!S.cur) return;
  const pl = S.cur.prelabel ? S.cur.prelabel.label : null;
  if (S.info.task !== "multi" && S.info.classes.length === 2 && pl !== null) {
    submit(S.info.classes.find((c) => c !== pl));
    return;
  }
  $("accept-box").hidden = true;
  if (S.info.task === "multi") { $("multi-box").hidden = false; S.selected = []; renderChips(); $("tag-input").focus(); }
  else { S.preselected = null; $("single-box").hidden = false; renderClassButtons(); }
}

// ------------------------------------------------------------------ keyboard
$("tag-input").addEventListener("input", renderSuggestions);
$("tag-input").addEventListener("keydown", (ev) => {
  if (ev.altKey && ev.key.toLowerCase() === "s") { ev.preventDefault(); skip(); return; }
  if (ev.altKey && ev.key.toLowerCase() === "u") { ev.preventDefault(); undo(); return; }
  if (ev.altKey && ev.key.toLowerCase() === "c") { ev.preventDefault(); toggleComment(); return; }
  if (ev.key === "Enter" && (ev.ctrlKey || ev.metaKey)) { ev.preventDefault(); submitTags(); return; }
  if (ev.key === "ArrowDown") { ev.preventDefault(); moveSuggestion(1); return; }
  if (ev.key === "ArrowUp") { ev.preventDefault(); moveSuggestion(-1); return; }
  if (ev.key === "Enter" || (ev.key === "Tab" && S.sugg.length)) {
    ev.preventDefault();
    if (S.sugg.length) addTag(S.sugg[S.suggIdx].tag);
    else if ($("tag-input").value.trim()) {
      const c = canonical($("tag-input").value);
      if (c) addTag(c); else say(`unknown tag '${$("tag-input").value.trim()}'`);
    } else if (S.selected.length) submitTags();
    return;
  }
  if (ev.key === "Backspace" && !$("tag-input").value && S.selected.length) {
    ev.preventDefault();
    removeTag(S.selected[S.selected.length - 1]);
  }
});

$("comment").addEventListener("keydown", (ev) => {
  if (ev.key === "Escape") {
    ev.preventDefault();
    $("comment").blur();
    if (S.info.task === "multi") $("tag-input").focus();
  }
});

document.addEventListener("keydown", (ev) => {
  const t = ev.target;
  if (t && (t.id === "tag-input" || t.id === "comment")) return;
  if (ev.ctrlKey && ev.key.toLowerCase() === "z") { ev.preventDefault(); undo(); return; }
  if (ev.ctrlKey || ev.metaKey || ev.altKey) {
    if (ev.altKey && ev.key.toLowerCase() === "s") { ev.preventDefault(); skip(); }
    if (ev.altKey && ev.key.toLowerCase() === "u") { ev.preventDefault(); undo(); }
    return;
  }
  if (!S.cur && ev.key.toLowerCase() !== "u") return;
  const k = ev.key.toLowerCase();
  const acceptShown = !$("accept-box").hidden;
  if (acceptShown && (k === "a" || k === "enter" || k === "y")) { ev.preventDefault(); accept(); return; }
  if (acceptShown && (k === "r" || k === "n")) { ev.preventDefault(); reject(); return; }
  if (S.info.task !== "multi" && /^[0-9]$/.test(k) && !$("single-box").hidden) {
    const i = k === "0" ? 9 : Number(k) - 1;
    if (i < S.info.classes.length) { ev.preventDefault(); submit(S.info.classes[i]); }
    return;
  }
  if (k === "enter" && S.info.task !== "multi" && S.preselected && !$("single-box").hidden) { ev.preventDefault(); submit(S.preselected); return; }
  if (k === "s") { ev.preventDefault(); skip(); return; }
  if (k === "u") { ev.preventDefault(); undo(); return; }
  if (k === "c") { ev.preventDefault(); toggleComment(); return; }
  if ((k === "/" || k === "t") && S.info.task === "multi") { ev.preventDefault(); $("tag-input").focus(); }
});

$("skip").addEventListener("click", skip);
$("undo").addEventListener("click", undo);
$("comment-toggle").addEventListener("click", toggleComment);
$("accept").addEventListener("click", accept);
$("reject").addEventListener("click", reject);
$("submit-tags").addEventListener("click", submitTags);
$("logout").addEventListener("click", logout);

// ------------------------------------------------------------------ start
(async () => {
  if (!project) { location.href = "/ui/index.html"; return; }
  try {
    const me = await api("GET", "/me");
    $("user-name").textContent = me.name;
    if (me.role !== "annotator") { $("dashboard-link").hidden = false; $("dashboard-link").href = "admin.html?project=" + encodeURIComponent(project); }
    if (me.paused_reason) { showPaused(me.paused_reason); return; }
    S.info = await api("GET", P);
    $("project-name").textContent = S.info.name;
    document.title = "labelloop: " + S.info.name;
    if (S.info.blind) { $("mode-badge").hidden = false; $("mode-badge").textContent = "blind mode"; }
    else if (S.info.mode === "accept_reject") { $("mode-badge").hidden = false; $("mode-badge").textContent = "accept / reject"; }
    if (S.info.task === "multi") buildTaxonomy(S.info);
    const first = await api("GET", `${P}/next`);
    show(first);
    prefetch();
  } catch (e) {
    if (e.status === 403) showPaused(e.message);
    else $("status").textContent = e.message;
  }
})();
