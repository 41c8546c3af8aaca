// Tasks: everything this key has asked for, its state and results; queued and running ones can be cancelled.

import { call } from "./api.js";
import { onLang, t } from "./i18n.js";
import { $, errorText, fmtSeconds, fmtWhen, h, taskErrorText } from "./ui.js";

let items = [];
let cursor = null;
let timer = 0;

const OUTPUT_LABELS = { video: "out.video", audio: "out.audio", cover: "out.cover", preview: "out.preview" };

export function init() {
  $("tasks-status").addEventListener("change", () => load());
  $("tasks-kind").addEventListener("change", () => load());
  $("tasks-refresh").addEventListener("click", () => load());
  $("tasks-more").addEventListener("click", () => load(cursor));
  $("tasks-filter").addEventListener("submit", (e) => e.preventDefault());
  onLang(draw);
}

export function show() {
  load();
}

async function load(after = null) {
  clearTimeout(timer);
  $("tasks-error").textContent = "";
  try {
    const page = await call("/v1/tasks", { query: {
      status: $("tasks-status").value, kind: $("tasks-kind").value, limit: 20, cursor: after } });
    items = after ? [...items, ...page.items] : page.items;
    cursor = page.next_cursor;
  } catch (err) {
    $("tasks-error").textContent = errorText(err);
    return;
  }
  draw();
  // While something is still going, look again in a few seconds (only while this page is shown).
  if (items.some((x) => x.status === "queued" || x.status === "running")) {
    timer = setTimeout(() => { if (!$("page-tasks").hidden) load(); }, 3000);
  }
}

function draw() {
  const list = $("task-list");
  $("tasks-more").hidden = !cursor;
  if (!items.length) {
    list.replaceChildren(h("li", { class: "empty-line", text: t("tasks.none") }));
    return;
  }
  list.replaceChildren(...items.map(row));
}

function row(task) {
  const going = task.status === "queued" || task.status === "running";
  const head = h("div", { class: "task-head" },
    h("span", { class: `badge ${task.status}`, text: t(`status.${task.status}`) }),
    h("strong", { text: t(`kind.${task.kind}`, {}, task.kind) }),
    task.name ? h("span", { class: "task-name", text: task.name }) : null,
    h("span", { class: "hint task-when", text: fmtWhen(task.created_at) }));
  const parts = [head];
  if (going) {
    parts.push(h("div", { class: "mini-progress" },
      h("div", { class: "bar", role: "progressbar", "aria-valuemin": "0", "aria-valuemax": "100",
                 "aria-valuenow": String(Math.round(task.progress)), "aria-label": t("progress.working") },
        h("div", { class: "bar-fill", style: `width:${task.progress}%` })),
      h("span", { class: "hint", text: `${Math.round(task.progress)}% ${task.stage || ""}` })));
  }
  if (task.status === "failed" && task.error) parts.push(h("p", { class: "row-error", text: taskErrorText(task.error) }));
  if (task.status === "succeeded" && task.duration_s) {
    parts.push(h("p", { class: "hint", text: t("tasks.took", { time: fmtSeconds(task.duration_s) }) }));
  }
  const links = Object.entries(task.outputs || {})
    .filter(([k, v]) => OUTPUT_LABELS[k] && typeof v === "string" && /^https?:/.test(v))
    .map(([k, v]) => h("a", { href: v, target: "_blank", rel: "noopener", class: "chip", text: t(OUTPUT_LABELS[k]) }));
  if (links.length) parts.push(h("div", { class: "row wrap links" }, links));
  const actions = [];
  if (going) {
    const cancel = h("button", { type: "button", class: "ghost small danger", text: t("tasks.cancel"),
      "aria-label": t("tasks.cancel.named", { kind: t(`kind.${task.kind}`, {}, task.kind) }) });
    cancel.addEventListener("click", async () => {
      cancel.disabled = true;
      try {
        await call(`/v1/tasks/${encodeURIComponent(task.id)}/cancel`, { method: "POST" });
        load();
      } catch (err) {
        cancel.disabled = false;
        cancel.after(h("span", { class: "row-error", role: "alert", text: errorText(err) }));
      }
    });
    actions.push(cancel);
  }
  const thumb = task.outputs?.cover
    ? h("img", { class: "task-thumb", src: task.outputs.cover, alt: "", loading: "lazy" })
    : h("div", { class: `task-thumb kind-${task.kind.replace(".", "-")}`, "aria-hidden": "true" });
  return h("li", { class: "task", "data-task-id": task.id }, thumb, h("div", { class: "task-body" }, parts),
    h("div", { class: "task-actions" }, actions));
}
