"use strict";

async function showProjects(me) {
  const projects = await api("GET", "/projects");
  document.getElementById("login-form").hidden = true;
  const box = document.getElementById("choose");
  box.hidden = false;
  const list = document.getElementById("project-list");
  list.replaceChildren();
  for (const p of projects) {
    const q = "?project=" + encodeURIComponent(p.name);
    list.append(el("li", {},
      el("a", { href: "annotate.html" + q, class: "project-link", "data-project": p.name, text: "Label " + p.name }),
      me.role !== "annotator" ? el("a", { href: "admin.html" + q, class: "admin-link", text: "  Dashboard" }) : null,
      el("span", { class: "muted", text: `  (${p.task}-label ${p.data_type})` })));
  }
  const next = param("next");
  if (next && next.startsWith("/ui/")) location.href = next;
  else if (projects.length === 1 && me.role === "annotator") location.href = "annotate.html?project=" + encodeURIComponent(projects[0].name);
}

document.getElementById("login-form").addEventListener("submit", async (ev) => {
  ev.preventDefault();
  const err = document.getElementById("login-error");
  err.textContent = "";
  const body = new URLSearchParams({
    username: document.getElementById("username").value,
    password: document.getElementById("password").value,
  });
  try {
    const out = await api("POST", "/auth/login", body, { noRedirect: true });
    await showProjects(out.user);
  } catch (e) {
    err.textContent = e.message;
  }
});
document.getElementById("logout-button").addEventListener("click", logout);

(async () => {
  try {
    const me = await api("GET", "/me", undefined, { noRedirect: true });
    await showProjects(me);
  } catch (e) { /* not logged in: show the form */ }
})();
