// Rewrite: a script rewritten in a style by a chat model, streamed in as it is written.

import { call, send } from "./api.js";
import { onLang, t } from "./i18n.js";
import { $, clearErrors, errorText, h, placeError, showError } from "./ui.js";
import { useScript } from "./create.js";
import { useRemixScript } from "./remix.js";

const PRESETS = { "rewrite-口播": "style.koubo", "rewrite-xiaohongshu": "style.xiaohongshu", "rewrite-formal": "style.formal" };
let models = [];
let controller = null;

export function init() {
  $("rewrite-form").addEventListener("submit", (e) => { e.preventDefault(); if (!controller) rewrite(); });
  $("rewrite-stop").addEventListener("click", () => controller?.abort());
  $("rewrite-output").addEventListener("input", syncButtons);
  $("rewrite-send").addEventListener("click", () => {
    useScript($("rewrite-output").value.trim());
    location.hash = "#create";
  });
  $("rewrite-send-remix").addEventListener("click", () => {
    useRemixScript($("rewrite-output").value.trim());
    location.hash = "#remix";
  });
  $("rewrite-copy").addEventListener("click", async () => {
    try {
      await navigator.clipboard.writeText($("rewrite-output").value);
      $("rewrite-status").textContent = t("rewrite.copied");
    } catch {
      $("rewrite-output").select();
    }
  });
  onLang(draw);
}

export async function show() {
  try {
    const list = await call("/v1/models");
    models = (list.data || []).map((m) => m.id);
    showError("rewrite-model-error", "");
  } catch (err) {
    models = [];
    showError("rewrite-model-error", errorText(err));
  }
  draw();
}

function draw() {
  const select = $("rewrite-model");
  const keep = select.value;
  const presets = models.filter((m) => m in PRESETS);
  const others = models.filter((m) => !(m in PRESETS));
  const groups = [];
  if (presets.length) {
    groups.push(h("optgroup", { label: t("rewrite.presets") },
      presets.map((m) => h("option", { value: m, text: t(PRESETS[m]) }))));
  }
  if (others.length) {
    groups.push(h("optgroup", { label: t("rewrite.models") }, others.map((m) => h("option", { value: m, text: m }))));
  }
  select.replaceChildren(...groups);
  if ([...select.options].some((o) => o.value === keep)) select.value = keep;
  syncButtons();
}

function syncButtons() {
  const has = $("rewrite-output").value.trim().length > 0 && !controller;
  for (const id of ["rewrite-send", "rewrite-send-remix", "rewrite-copy"]) $(id).disabled = !has;
}

// The length the user asked for, said the way the presets understand it.
function lengthMessage(text) {
  const n = Number($("rewrite-length").value);
  if (!n) return [];
  const chinese = /[\u4e00-\u9fff]/.test(text);
  return [{ role: "system", content: chinese ? `改写成${n}字` : `in about ${n} words` }];
}

async function rewrite() {
  const form = $("rewrite-form");
  clearErrors(form);
  const text = $("rewrite-input").value.trim();
  if (!text) return showError("rewrite-input-error", t("rewrite.need.text"));
  const model = $("rewrite-model").value;
  if (!model) return showError("rewrite-model-error", t("rewrite.need.model"));
  const output = $("rewrite-output");
  const status = $("rewrite-status");
  output.value = "";
  output.setAttribute("aria-busy", "true");
  status.textContent = t("rewrite.writing");
  controller = new AbortController();
  $("rewrite-submit").disabled = true;
  $("rewrite-stop").hidden = false;
  syncButtons();
  try {
    const response = await send("/v1/chat/completions", {
      method: "POST", signal: controller.signal, headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ model, stream: true, messages: [...lengthMessage(text), { role: "user", content: text }] }),
    });
    await readEvents(response, (event) => {
      if (event.error) throw Object.assign(new Error(event.error.message), { status: event.error.code });
      const piece = event.choices?.[0]?.delta?.content;
      if (piece) output.value += piece;
    });
    status.textContent = t("rewrite.done", { n: output.value.length });
  } catch (err) {
    if (err.name === "AbortError") status.textContent = t("rewrite.stopped");
    else {
      status.textContent = "";
      placeError(err, [{ match: /model/i, id: "rewrite-model-error" }, { match: /messages|content|text/i, id: "rewrite-input-error" }],
        "rewrite-form-error", "submit");
    }
  } finally {
    controller = null;
    output.setAttribute("aria-busy", "false");
    $("rewrite-submit").disabled = false;
    $("rewrite-stop").hidden = true;
    syncButtons();
  }
}

// Server-sent events read from a fetch body: each "data: {json}" line, until "data: [DONE]".
async function readEvents(response, onEvent) {
  const reader = response.body.getReader();
  const decoder = new TextDecoder();
  let buffer = "";
  for (;;) {
    const { value, done } = await reader.read();
    if (done) break;
    buffer += decoder.decode(value, { stream: true });
    let cut;
    while ((cut = buffer.indexOf("\n\n")) >= 0) {
      const block = buffer.slice(0, cut);
      buffer = buffer.slice(cut + 2);
      const data = block.split("\n").filter((l) => l.startsWith("data:")).map((l) => l.slice(5).trimStart()).join("\n");
      if (!data) continue;
      if (data === "[DONE]") return;
      onEvent(JSON.parse(data));
    }
  }
}
