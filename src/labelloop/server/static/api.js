// Tiny client for the labelloop REST API (the UI uses nothing else).
"use strict";

const API = "/api/v1";

function getCookie(name) {
  const m = document.cookie.split("; ").find((c) => c.startsWith(name + "="));
  return m ? decodeURIComponent(m.slice(name.length + 1)) : "";
}

class ApiError extends Error {
  constructor(status, detail) {
    super(detail || "HTTP " + status);
    this.status = status;
  }
}

async function api(method, path, body, opts = {}) {
  const headers = { Accept: "application/json" };
  if (method !== "GET") headers["X-CSRF-Token"] = getCookie("labelloop_csrf");
  let payload;
  if (body instanceof URLSearchParams) {
    payload = body;
  } else if (body !== undefined) {
    headers["Content-Type"] = "application/json";
    payload = JSON.stringify(body);
  }
  const r = await fetch(API + path, { method, headers, body: payload, credentials: "same-origin" });
  if (r.status === 401 && !opts.noRedirect) {
    location.href = "/ui/index.html?next=" + encodeURIComponent(location.pathname + location.search);
    throw new ApiError(401, "not logged in");
  }
  if (r.status === 204) return null;
  const ct = r.headers.get("content-type") || "";
  const data = ct.includes("json") ? await r.json() : await r.text();
  if (!r.ok) throw new ApiError(r.status, typeof data === "object" ? data.detail : data);
  return data;
}

function el(tag, attrs = {}, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v === null || v === undefined || v === false) continue;
    if (k === "class") e.className = v;
    else if (k === "text") e.textContent = v;
    else if (k.startsWith("on")) e.addEventListener(k.slice(2), v);
    else e.setAttribute(k, v === true ? "" : v);
  }
  for (const c of children.flat()) {
    if (c === null || c === undefined) continue;
    e.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return e;
}

function param(name) {
  return new URLSearchParams(location.search).get(name);
}

async function logout() {
  try { await api("POST", "/auth/logout"); } catch (e) { /* already logged out */ }
  location.href = "/ui/index.html";
}

function fmtLabel(v) {
  if (v === null || v === undefined) return "";
  return Array.isArray(v) ? v.join(", ") : String(v);
}
