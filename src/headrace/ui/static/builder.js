// Job builder form (issue 17): show the chosen task type's and trigger's fields only, follow
// renamed tasks in the dependency lists, and redraw the graph and the schedule's next fire
// times as you type (POST the form to data-preview; the server answers with HTML parts).
// Without this script every field shows and the Redraw button does the same by posting.
"use strict";

function showChosen(select) {
  const name = select.dataset.typeSelect;
  const value = select.value;
  for (const group of document.querySelectorAll(`[data-type-group="${name}"]`)) {
    group.classList.add("js");
    for (const fs of group.querySelectorAll(":scope > .type-fields")) {
      fs.classList.toggle("on", fs.dataset.type.split(" ").includes(value));
    }
  }
  for (const inner of document.querySelectorAll(`[data-inner-of="${name}"]`)) {
    inner.classList.add("js");
    inner.classList.toggle("on", value === "for_each_task");
  }
  showOutcomes();
}

// An outcome choice only after a condition task.
function showOutcomes() {
  for (const sel of document.querySelectorAll("select[data-outcome-of]")) {
    const type = document.querySelector(`select[name="task.${sel.dataset.outcomeOf}.type"]`);
    sel.classList.add("js");
    sel.classList.toggle("on", Boolean(type && type.value === "condition_task") || sel.value !== "");
  }
}

function followKey(input) {
  const row = input.name.split(".")[1];
  for (const el of document.querySelectorAll(`[data-key-of="${row}"]`)) el.textContent = input.value;
}

let timer = null;
let asked = 0;
async function redraw(form) {
  const mine = ++asked;
  const body = new FormData(form);
  body.delete("op");
  let data = null;
  try {
    const r = await fetch(form.dataset.preview, { method: "POST", body, credentials: "same-origin", headers: { Accept: "application/json" } });
    if (r.ok) data = await r.json();
  } catch (err) { console.warn(err); }
  if (!data || mine !== asked) return; // a newer redraw is on its way
  document.getElementById("graph-preview").innerHTML = data.graph;
  document.getElementById("schedule-preview").innerHTML = data.schedule;
  form.dataset.drawn = String(mine);
}

document.addEventListener("DOMContentLoaded", () => {
  const form = document.getElementById("job-form");
  if (!form) return;
  for (const sel of form.querySelectorAll("select[data-type-select]")) {
    showChosen(sel);
    sel.addEventListener("change", () => showChosen(sel));
  }
  const later = () => { clearTimeout(timer); timer = setTimeout(() => redraw(form), 250); };
  form.addEventListener("input", (ev) => {
    if (ev.target.name && /^task\.\d+\.task_key$/.test(ev.target.name)) followKey(ev.target);
    later();
  });
  form.addEventListener("change", later);
});
