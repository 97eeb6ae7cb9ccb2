// Headrace UI live updates: poll a small JSON endpoint and swap only what changed (no reload,
// no flicker). Elements opt in with data-live (page parts) or data-live-log (a growing log).
"use strict";

const POLL_MS = 1000;

async function getJSON(url) {
  const response = await fetch(url, { headers: { Accept: "application/json" }, credentials: "same-origin" });
  if (response.status === 401) { window.location.reload(); return null; }
  if (!response.ok) throw new Error(`${url}: HTTP ${response.status}`);
  return response.json();
}

// Replace a fragment's HTML when it changed, but not under the user's keyboard focus
// (the next poll catches up once focus leaves).
function swap(id, html) {
  const el = document.getElementById(id);
  if (!el || el.dataset.html === html) return;
  if (el.contains(document.activeElement) && document.activeElement !== document.body) return;
  el.innerHTML = html;
  el.dataset.html = html;
}

function paintTasks(tasks) {
  for (const [key, look] of Object.entries(tasks)) {
    for (const node of document.querySelectorAll("g.node[data-task]")) {
      if (node.dataset.task !== key) continue;
      node.setAttribute("class", `node st-${look.css}${look.crit ? " crit" : ""}`);
      const icon = node.querySelector(".state-icon");
      if (icon) icon.textContent = look.icon;
      const title = node.querySelector("title");
      if (title) title.textContent = title.textContent.replace(/(: .*)?$/, `: ${look.label}`);
    }
  }
}

// The run's critical path on the graph's edges (names "upstream>task").
function paintCritical(edges) {
  const on = new Set(edges);
  for (const edge of document.querySelectorAll("path.edge[data-edge]")) {
    edge.classList.toggle("crit", on.has(edge.dataset.edge));
  }
}

function livePage(root) {
  const url = root.dataset.live;
  let every = Number(root.dataset.interval || POLL_MS);
  const tick = async () => {
    let data = null;
    try { data = await getJSON(url); } catch (err) { console.warn(err); }
    if (data) {
      for (const [id, html] of Object.entries(data.html || {})) swap(id, html);
      if (data.tasks) paintTasks(data.tasks);
      if (data.critical_edges) paintCritical(data.critical_edges);
      if (data.interval) every = data.interval; // the server says how soon to ask again
      if (data.active === false) { root.dataset.done = "true"; return; }
    }
    setTimeout(tick, every);
  };
  setTimeout(tick, every);
}

function liveLog(pre) {
  let offset = Number(pre.dataset.offset || 0);
  let attempt = Number(pre.dataset.attempt || 0);
  const base = pre.dataset.liveLog;
  const label = document.getElementById("log-attempt");
  const tick = async () => {
    let data = null;
    try { data = await getJSON(`${base}?attempt=${attempt}&offset=${offset}`); } catch (err) { console.warn(err); }
    if (data) {
      const atBottom = pre.scrollTop + pre.clientHeight >= pre.scrollHeight - 4;
      if (data.text) pre.append(document.createTextNode(data.text)); // text, never HTML
      offset = data.offset;
      if (data.next_attempt !== null && data.next_attempt !== undefined) {
        // A retry started: follow its log, marked in the same view.
        attempt = data.next_attempt;
        offset = 0;
        pre.append(document.createTextNode(`\n--- attempt ${attempt + 1} ---\n`));
        if (label) label.textContent = String(attempt + 1);
      }
      if (atBottom) pre.scrollTop = pre.scrollHeight;
      if (!data.active && !data.text && data.next_attempt == null) { pre.dataset.done = "true"; return; }
    }
    setTimeout(tick, POLL_MS);
  };
  setTimeout(tick, POLL_MS);
}

document.addEventListener("DOMContentLoaded", () => {
  for (const el of document.querySelectorAll("[data-live]")) livePage(el);
  for (const el of document.querySelectorAll("[data-live-log]")) liveLog(el);
});
