// Create video: a face (photo, video or trained avatar) + speech (file, recording or script and voice).

import { agent, call, speak, upload, watchTask } from "./api.js";
import { fillVoiceSelect, loadAvatars } from "./catalog.js";
import { currentLang, onLang, t } from "./i18n.js";
import {
  $, bindDrops, bindWhen, blobName, busy, clearErrors, emptyState, h, placeError, progressView, radio,
  recorder, showError, showThumb, taskErrorText, videoResult,
} from "./ui.js";

let form, rec, running = false;

// Which field an error message is about; the first match wins, then the step that failed.
function rules() {
  const face = radio(form, "face-source") === "avatar" ? "create-avatar-error" : "create-face-error";
  const audio = radio(form, "speech-source") === "record" ? "create-record-error" : "create-audio-error";
  return [
    { match: /(use_voice|create_voice)\.text|task_text|text is empty|\btext\b.*(long|characters)/i, id: "create-script-error", step: "tts" },
    { match: /create_voice/i, id: "create-clone-error", step: "clone" },
    { match: /voice_engine_id|reference_id|voice model|stock voice/i, id: "create-voice-error" },
    { match: /avatar_url|video_url|no face|face/i, id: face, step: "face" },
    { match: /model_id|avatar model/i, id: "create-avatar-error" },
    { match: /audio_url|speech/i, id: audio, step: "audio" },
    { match: /resolution/i, id: "create-form-error" },
  ];
}

export function init() {
  form = $("create-form");
  bindWhen(form);
  bindDrops(form);
  rec = recorder($("create-recorder"), () => showError("create-record-error", ""));
  $("create-face").addEventListener("change", () => showThumb($("create-face-preview"), $("create-face").files[0]));
  $("create-voice").addEventListener("change", () => { $("create-clone-box").hidden = $("create-voice").value !== "__clone__"; });
  form.addEventListener("change", (e) => { if (e.target.name === "face-source") syncQuality(); });
  form.addEventListener("submit", (e) => { e.preventDefault(); if (!running) submit(); });
  emptyState($("create-result"), "create.empty");
  onLang(() => { refreshVoices(); refreshAvatars(); });
  syncQuality();
}

export function show(refresh) {
  refreshVoices(refresh);
  refreshAvatars(refresh);
}

function syncQuality() {
  // A trained avatar renders at high speed; the quality choice does not apply to it.
  const avatar = radio(form, "face-source") === "avatar";
  for (const id of ["create-q-standard", "create-q-v2", "create-watermark"]) $(id).disabled = avatar;
}

async function refreshVoices(force) {
  try {
    await fillVoiceSelect($("create-voice"), { clone: true, lang: currentLang() });
    if (force) await fillVoiceSelect($("create-voice"), { clone: true, lang: currentLang() });
    $("create-clone-box").hidden = $("create-voice").value !== "__clone__";
  } catch { /* a refused key has already opened the key dialog */ }
}

async function refreshAvatars(force) {
  const select = $("create-avatar");
  const keep = select.value;
  let items = [];
  try { items = await loadAvatars(force); } catch { /* listed again on the next visit */ }
  const trained = items.filter((a) => a.state === "trained" && a.id);
  select.replaceChildren(...(trained.length
    ? trained.map((a) => h("option", { value: a.id, text: a.name || a.id }))
    : [h("option", { value: "", text: t("create.avatar.none") })]));
  if ([...select.options].some((o) => o.value === keep)) select.value = keep;
}

// Fill the script from elsewhere (the rewrite page).
export function useScript(text) {
  $("create-speech-script").checked = true;
  $("create-speech-script").dispatchEvent(new Event("change", { bubbles: true }));
  $("create-script").value = text;
}

function check() {
  const faceSource = radio(form, "face-source");
  const speech = radio(form, "speech-source");
  const face = $("create-face").files[0];
  let ok = true;
  const need = (cond, id, key) => { if (!cond) { if (ok) showError(id, t(key)); else $(id).textContent = t(key); ok = false; } };
  if (faceSource === "upload") need(face, "create-face-error", "create.need.face");
  else need($("create-avatar").value, "create-avatar-error", "create.need.avatar");
  if (speech === "script") {
    need($("create-script").value.trim(), "create-script-error", "create.need.script");
    if ($("create-voice").value === "__clone__") {
      need($("create-clone").files[0], "create-clone-error", "create.need.clone");
      need(faceSource === "upload" && radio(form, "quality") === "standard", "create-clone-error", "create.clone.standardOnly");
    }
  } else if (speech === "file") need($("create-audio").files[0], "create-audio-error", "create.need.audio");
  else need(rec.blob, "create-record-error", "create.need.record");
  if (faceSource === "upload" && radio(form, "quality") === "v2" && face && !face.type.startsWith("video/")) {
    need(false, "create-quality-error", "create.v2.needsVideo");
  }
  return ok;
}

async function submit() {
  clearErrors(form);
  if (!check()) return;
  running = true;
  const result = $("create-result");
  let step = "face";
  try {
    await busy($("create-submit"), "create.submitting", async () => {
      const taskId = await start((s) => { step = s; });
      step = "task";
      await follow(taskId, result);
    });
  } catch (err) {
    if (err.name === "AbortError") return;
    emptyState(result, "create.empty");
    placeError(err, rules(), "create-form-error", step);
  } finally {
    running = false;
  }
}

// Upload what is needed and create the task; returns its id.
async function start(at) {
  const faceSource = radio(form, "face-source");
  const speech = radio(form, "speech-source");
  const quality = faceSource === "avatar" ? "fast" : radio(form, "quality");
  const voice = $("create-voice").value;
  const script = $("create-script").value.trim();
  const size = $("create-size").value;
  const progress = progressView($("create-result"), "progress.uploading");

  let faceUrl = null;
  if (faceSource === "upload") {
    at("face");
    faceUrl = (await upload($("create-face").files[0])).url;
  }
  let audioUrl = null;
  if (speech === "file") {
    at("audio");
    audioUrl = (await upload($("create-audio").files[0])).url;
  } else if (speech === "record") {
    at("audio");
    audioUrl = (await upload(rec.blob, blobName(rec.blob, "recording"))).url;
  } else if (quality !== "standard") {
    at("tts"); // V2 and trained avatars take audio: speak the script first
    progress.update({ progress: 0, stage: t("progress.speaking") });
    audioUrl = (await speak(script, voice)).url;
  }

  at("submit");
  if (quality === "fast") {
    const fields = { model_id: $("create-avatar").value, audio_url: audioUrl };
    if (size) fields.resolution = size;
    return (await agent("create_video_fast", fields)).task_id;
  }
  if (quality === "v2") {
    const fields = { video_url: faceUrl, audio_url: audioUrl };
    if (size) fields.resolution = size;
    return (await agent("create_v2", fields)).task_id;
  }
  const body = { avatar_url: faceUrl, no_watermark: !$("create-watermark").checked };
  const name = $("create-name").value.trim();
  if (name) body.work_name = name;
  if (size) body.resolution = Number(size);
  if (audioUrl) body.audio_url = audioUrl;
  else if (voice === "__clone__") {
    at("clone");
    const sample = (await upload($("create-clone").files[0])).url;
    at("submit");
    body.create_voice = { audio_url: sample, language: $("create-clone-lang").value, text: script };
  } else {
    body.use_voice = { voice_engine_id: voice, text: script };
  }
  return (await call("/avatar/generation", { method: "POST", json: body })).id;
}

async function follow(taskId, result) {
  const view = progressView(result, "progress.making");
  const task = await watchTask(taskId, view.update);
  if (task.status !== "succeeded") {
    const err = { status: task.error?.code || 0, message: task.error?.message || "" };
    view.remove();
    const text = task.status === "cancelled" ? t("progress.cancelled") : taskErrorText(task.error);
    result.replaceChildren(h("p", { class: "notice error", role: "alert", text }));
    const message = task.error?.message || "";
    if (/face|avatar/i.test(message)) placeError(Object.assign(new Error(message), err), rules(), "create-form-error", "task");
    return;
  }
  const out = task.outputs || {};
  videoResult(result, {
    video: out.video,
    preview: out.preview,
    cover: out.cover,
    duration: out.duration_s ?? task.duration_s,
    name: `${task.name || "digihuman"}.mp4`,
  });
}
