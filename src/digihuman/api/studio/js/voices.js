// Voices: clone a voice from samples, hear any voice say any text, list and delete cloned voices.

import { call, send, watchTask } from "./api.js";
import { fillVoiceSelect, languageName, loadVoices, voiceLabel } from "./catalog.js";
import { currentLang, onLang, t } from "./i18n.js";
import {
  $, bindDrops, blobName, busy, clearErrors, errorText, fmtBytes, fmtSeconds, h, placeError, progressView,
  recorder, showError,
} from "./ui.js";

const samples = []; // {blob, name}: files chosen and takes recorded, in order
let takes = 0;

const CLONE_RULES = [
  { match: /title/i, id: "voice-title-error" },
  { match: /voices|sample|speech|audio|texts/i, id: "voice-samples-error" },
];

export function init() {
  const form = $("voice-clone-form");
  bindDrops(form);
  $("voice-samples").addEventListener("change", () => {
    for (const file of $("voice-samples").files) samples.push({ blob: file, name: file.name });
    drawSamples();
  });
  recorder($("voice-recorder"), (blob) => {
    takes += 1;
    samples.push({ blob, name: blobName(blob, `${t("voices.take")}-${takes}`) });
    drawSamples();
  });
  form.addEventListener("submit", (e) => { e.preventDefault(); clone(); });
  $("voice-try-submit").addEventListener("click", tryVoice);
  $("voices-refresh").addEventListener("click", () => refresh(true));
  onLang(() => { drawSamples(); refresh(false); });
}

export function show() {
  refresh(true);
}

function drawSamples() {
  $("voice-sample-list").replaceChildren(...samples.map((s, i) => h("li", {},
    h("span", { text: `${s.name} · ${fmtBytes(s.blob.size)}` }),
    h("button", { type: "button", class: "ghost small", text: t("common.remove"),
      "aria-label": t("voices.remove.named", { name: s.name }),
      onclick: () => { samples.splice(i, 1); drawSamples(); } }))));
}

async function refresh(force) {
  let data;
  try {
    data = await loadVoices(force);
  } catch (err) {
    $("voice-list").replaceChildren(h("li", { class: "notice error", role: "alert", text: errorText(err) }));
    return;
  }
  fillVoiceSelect($("voice-try-voice"), { lang: currentLang() }).catch(() => {});
  $("voice-list").replaceChildren(...(data.mine.length
    ? data.mine.map(voiceRow)
    : [h("li", { class: "empty-line", text: t("voices.none") })]));
  $("stock-list").replaceChildren(...data.stock.map(stockRow));
}

function voiceRow(m) {
  const details = [
    h("span", { class: `badge ${stateClass(m.state)}`, text: t(`voice.state.${m.state}`) }),
    m.languages?.length ? h("span", { class: "hint", text: m.languages.map(languageName).join(", ") }) : null,
    m.speech_seconds ? h("span", { class: "hint", text: t("voices.speech", { time: fmtSeconds(m.speech_seconds) }) }) : null,
  ];
  const notes = [];
  if (m.state === "training" || m.state === "created") notes.push(h("span", { class: "hint", text: `${Math.round(m.progress || 0)}%` }));
  if (m.error) notes.push(h("span", { class: "row-error", text: m.error }));
  for (const w of m.warnings || []) notes.push(h("span", { class: "row-warning", text: w }));
  const actions = h("div", { class: "row-actions" });
  if (m.state === "trained") {
    actions.append(h("button", { type: "button", class: "ghost small", text: t("voices.try.this"),
      "aria-label": t("voices.try.named", { name: m.title }), onclick: () => pick(m._id) }));
  }
  actions.append(deleteButton(m));
  return h("li", { class: "voice-row" },
    h("div", { class: "row-main" }, h("strong", { text: m.title }), h("div", { class: "row-meta" }, details), notes), actions);
}

const stateClass = (state) => ({ trained: "succeeded", failed: "failed", training: "running" }[state] || "queued");

// Two steps, so that one stray click does not delete a voice.
function deleteButton(m) {
  const box = h("span", { class: "confirm" });
  const ask = h("button", { type: "button", class: "ghost small danger", text: t("common.delete"),
    "aria-label": t("voices.delete.named", { name: m.title }) });
  ask.addEventListener("click", () => {
    const yes = h("button", { type: "button", class: "danger small", text: t("voices.delete.confirm") });
    const no = h("button", { type: "button", class: "ghost small", text: t("common.cancel") });
    yes.addEventListener("click", async () => {
      try {
        await call(`/model/${encodeURIComponent(m._id)}`, { method: "DELETE" });
        refresh(true);
      } catch (err) {
        box.replaceChildren(h("span", { class: "row-error", role: "alert", text: errorText(err) }));
      }
    });
    no.addEventListener("click", () => box.replaceChildren(ask));
    box.replaceChildren(yes, no);
    yes.focus();
  });
  box.append(ask);
  return box;
}

function stockRow(v) {
  const audio = h("audio", { controls: true, hidden: true, preload: "none" });
  const play = h("button", { type: "button", class: "ghost small", text: t("voices.sample"),
    "aria-label": t("voices.sample.named", { name: v.name }) });
  play.addEventListener("click", async () => {
    try {
      await busy(play, "common.loading", async () => {
        // The sample route needs the key, so it is fetched here rather than named in src.
        if (!audio.src) audio.src = URL.createObjectURL(await (await send(`/v1/voices/${encodeURIComponent(v.id)}/sample`)).blob());
        audio.hidden = false;
        await audio.play().catch(() => {});
      });
    } catch (err) {
      play.after(h("span", { class: "row-error", role: "alert", text: errorText(err) }));
    }
  });
  return h("li", { class: "voice-row" },
    h("div", { class: "row-main" }, h("strong", { text: v.name || v.id }), h("div", { class: "row-meta" },
      h("span", { class: "hint", text: voiceLabel(v).split(" · ").slice(1).join(" · ") }), h("code", { text: v.id }))),
    h("div", { class: "row-actions" }, play, h("button", { type: "button", class: "ghost small", text: t("voices.try.this"),
      "aria-label": t("voices.try.named", { name: v.name }), onclick: () => pick(v.id) })), audio);
}

function pick(id) {
  $("voice-try-voice").value = id;
  $("voice-try-text").focus();
  $("voice-try-text").scrollIntoView({ behavior: "smooth", block: "center" });
}

async function tryVoice() {
  showError("voice-try-error", "");
  const text = $("voice-try-text").value.trim() || t("voices.try.default");
  const audio = $("voice-try-audio");
  try {
    await busy($("voice-try-submit"), "voices.try.busy", async () => {
      const response = await send("/v1/tts", {
        method: "POST", headers: { "Content-Type": "application/json" },
        body: JSON.stringify({ text, reference_id: $("voice-try-voice").value, format: "wav" }),
      });
      audio.src = URL.createObjectURL(await response.blob());
      audio.hidden = false;
      await audio.play().catch(() => {});
    });
  } catch (err) {
    showError("voice-try-error", errorText(err));
  }
}

async function clone() {
  const form = $("voice-clone-form");
  clearErrors(form);
  const title = $("voice-title").value.trim();
  if (!title) return showError("voice-title-error", t("voices.need.name"));
  if (!samples.length) return showError("voice-samples-error", t("voices.need.samples"));
  const body = new FormData();
  body.set("title", title);
  body.set("type", "tts");
  body.set("train_mode", form.querySelector("input[name=voice-mode]:checked").value);
  body.set("enhance_audio_quality", $("voice-enhance").checked ? "true" : "false");
  for (const s of samples) body.append("voices", s.blob, s.name);
  const box = $("voice-clone-progress");
  try {
    await busy($("voice-clone-submit"), "voices.cloning", async () => {
      const view = progressView(box, "progress.uploading");
      const model = await call("/model", { method: "POST", form: body });
      const training = progressView(box, "progress.cloning");
      void view;
      if (model.task_id) await watchTask(model.task_id, training.update);
      const done = await call(`/model/${encodeURIComponent(model._id)}`);
      box.replaceChildren(outcome(done));
      samples.length = 0;
      drawSamples();
      await refresh(true);
      if (done.state === "trained") $("voice-try-voice").value = done._id;
    });
  } catch (err) {
    box.replaceChildren();
    placeError(err, CLONE_RULES, "voice-form-error", "upload");
  }
}

// What training made of the samples: ready (with any warnings) or why it failed.
function outcome(model) {
  if (model.state !== "trained") {
    return h("div", { class: "notice error", role: "alert" }, h("strong", { text: t("voices.failed") }), " ",
      model.error || "");
  }
  return h("div", { class: "notice ok", role: "status" },
    h("strong", { text: t("voices.ready", { name: model.title }) }),
    model.speech_seconds ? h("p", { text: t("voices.speech", { time: fmtSeconds(model.speech_seconds) }) }) : null,
    model.warnings?.length ? h("ul", { class: "warnings" }, model.warnings.map((w) => h("li", { text: w }))) : null);
}
