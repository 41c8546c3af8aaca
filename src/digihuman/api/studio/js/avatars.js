// Avatars: train a high-speed avatar from a talking video, list them, make videos with one.

import { agent, call, speak, upload, watchTask } from "./api.js";
import { fillVoiceSelect, loadAvatars } from "./catalog.js";
import { currentLang, onLang, t } from "./i18n.js";
import {
  $, bindDrops, bindWhen, busy, clearErrors, errorText, fmtWhen, h, placeError, progressView, radio,
  showError, taskErrorText, videoResult,
} from "./ui.js";

let chosen = null; // the avatar the render form is for: {id, name}

const TRAIN_RULES = [
  { match: /model_name|name/i, id: "avatar-name-error" },
  { match: /video_url|video|face|long|short/i, id: "avatar-video-error", step: "upload" },
];
const RENDER_RULES = [
  { match: /text|reference_id|voice/i, id: "avatar-script-error", step: "tts" },
  { match: /audio_url|speech/i, id: "avatar-audio-error", step: "audio" },
];

export function init() {
  const train = $("avatar-train-form");
  bindDrops(train);
  train.addEventListener("submit", (e) => { e.preventDefault(); trainAvatar(); });
  const render = $("avatar-render-form");
  bindWhen(render);
  bindDrops(render);
  render.addEventListener("submit", (e) => { e.preventDefault(); renderVideo(); });
  $("avatars-refresh").addEventListener("click", () => refresh(true));
  onLang(() => { refresh(false); if (chosen) title(); fillVoiceSelect($("avatar-voice"), { lang: currentLang() }).catch(() => {}); });
}

export function show(force) {
  refresh(true);
  fillVoiceSelect($("avatar-voice"), { lang: currentLang() }).catch(() => {});
  void force;
}

async function refresh(force) {
  const list = $("avatar-list");
  let items;
  try {
    items = await loadAvatars(force);
  } catch (err) {
    list.replaceChildren(h("li", { class: "notice error", role: "alert", text: errorText(err) }));
    return;
  }
  $("avatars-nodelete").hidden = Boolean(items.deletable);
  if (!items.length) {
    list.replaceChildren(h("li", { class: "empty-line", text: t("avatars.none") }));
    return;
  }
  list.replaceChildren(...items.map(tile));
}

const STATE_BADGE = { created: "queued", training: "running", trained: "succeeded", failed: "failed" };

function tile(a) {
  const name = a.name || t("avatars.unnamed");
  const body = [h("strong", { class: "tile-name", text: name }),
    h("span", { class: "hint", text: fmtWhen(a.created_at) }),
    h("span", { class: `badge ${STATE_BADGE[a.state] || "queued"}`, text: t(`voice.state.${a.state}`) })];
  if (a.state === "training" || a.state === "created") {
    body.push(h("span", { class: "hint", text: `${Math.round(a.progress || 0)}%` }));
  }
  if (a.state === "failed" && a.error) body.push(h("span", { class: "tile-error", text: a.error }));
  if (a.warnings?.length) body.push(h("span", { class: "tile-warning", text: a.warnings.join(" ") }));
  const actions = h("div", { class: "row-actions" });
  if (a.id && a.state === "trained") {
    actions.append(h("button", { type: "button", class: "primary small", text: t("avatars.use"),
      "aria-label": t("avatars.use.named", { name }), onclick: () => choose({ id: a.id, name }) }));
  }
  if (a.deletable && a.state !== "training") actions.append(deleteButton(a, name));
  body.push(actions);
  const picture = a.cover
    ? h("img", { src: a.cover, alt: t("avatars.cover", { name }), loading: "lazy" })
    : h("div", { class: "tile-blank", "aria-hidden": "true" });
  return h("li", { class: "tile" }, picture, h("div", { class: "tile-body" }, body));
}

// Two steps, so that one stray click does not delete an avatar.
function deleteButton(a, name) {
  const box = h("span", { class: "confirm" });
  const ask = h("button", { type: "button", class: "ghost small danger", text: t("common.delete"),
    "aria-label": t("avatars.delete.named", { name }) });
  ask.addEventListener("click", () => {
    const yes = h("button", { type: "button", class: "danger small", text: t("voices.delete.confirm") });
    const no = h("button", { type: "button", class: "ghost small", text: t("common.cancel") });
    yes.addEventListener("click", async () => {
      try {
        await call(`/v1/avatars/${encodeURIComponent(a.id)}`, { method: "DELETE" });
        if (chosen?.id === a.id) { chosen = null; $("avatar-render-form").hidden = true; }
        refresh(true);
      } catch (err) {
        box.replaceChildren(h("span", { class: "tile-error", role: "alert", text: errorText(err) }));
      }
    });
    no.addEventListener("click", () => box.replaceChildren(ask));
    box.replaceChildren(yes, no);
    yes.focus();
  });
  box.append(ask);
  return box;
}

function title() {
  $("avatar-render-h").textContent = t("avatars.render", { name: chosen.name });
}

function choose(avatar) {
  chosen = avatar;
  const form = $("avatar-render-form");
  form.hidden = false;
  title();
  $("avatar-render-result").replaceChildren();
  clearErrors(form);
  form.scrollIntoView({ behavior: "smooth", block: "start" });
  $("avatar-script").focus({ preventScroll: true });
}

async function trainAvatar() {
  const form = $("avatar-train-form");
  clearErrors(form);
  $("avatar-video-warning").textContent = "";
  const name = $("avatar-name").value.trim();
  const video = $("avatar-video").files[0];
  if (!name) return showError("avatar-name-error", t("avatars.need.name"));
  if (!video) return showError("avatar-video-error", t("avatars.need.video"));
  let step = "upload";
  const box = $("avatar-train-progress");
  try {
    await busy($("avatar-train-submit"), "avatars.training", async () => {
      const view = progressView(box, "progress.uploading");
      const stored = await upload(video);
      step = "submit";
      const data = await agent("create_model_fast", { model_name: name, video_url: stored.url });
      if (data.warning) $("avatar-video-warning").textContent = t("avatars.warning", { msg: data.warning });
      const modelId = data.model.model_id;
      const view2 = progressView(box, "progress.training");
      const task = await trainingTask(name);
      refresh(true);
      const done = task ? await watchTask(task.id, view2.update) : await pollModel(modelId, view2.update);
      void view;
      box.replaceChildren();
      refresh(true);
      if (done.status !== "succeeded") {
        showError("avatar-form-error", taskErrorText(done.error));
      } else {
        const warnings = done.outputs?.warnings || [];
        if (warnings.length) $("avatar-video-warning").textContent = t("avatars.warning", { msg: warnings.join(" ") });
        choose({ id: modelId, name });
      }
    });
  } catch (err) {
    box.replaceChildren();
    placeError(err, TRAIN_RULES, "avatar-form-error", step);
  }
}

// The training task just created, found in the task list (for its stage and time left).
async function trainingTask(name) {
  try {
    const page = await call("/v1/tasks", { query: { kind: "avatar.train", limit: 5 } });
    return page.items.find((task) => task.name === name && (task.status === "queued" || task.status === "running")) || null;
  } catch {
    return null;
  }
}

// Without the task list: follow the model's own status until it is trained or failed.
async function pollModel(modelId, update) {
  for (;;) {
    const m = await agent("chk_model_fast", { model_id: modelId });
    if (m.zstatus === 3) return { status: "succeeded", outputs: {} };
    if (m.zstatus === -1) return { status: "failed", error: { code: 422, message: m.error || "" } };
    update({ progress: m.progress, status: m.zstatus === 1 ? "queued" : "running" });
    await new Promise((r) => setTimeout(r, 1500));
  }
}

async function renderVideo() {
  const form = $("avatar-render-form");
  clearErrors(form);
  const speech = radio(form, "avatar-speech");
  const script = $("avatar-script").value.trim();
  const audio = $("avatar-audio").files[0];
  if (speech === "script" && !script) return showError("avatar-script-error", t("create.need.script"));
  if (speech === "file" && !audio) return showError("avatar-audio-error", t("create.need.audio"));
  const result = $("avatar-render-result");
  let step = speech === "script" ? "tts" : "audio";
  try {
    await busy($("avatar-render-submit"), "create.submitting", async () => {
      const view = progressView(result, speech === "script" ? "progress.speaking" : "progress.uploading");
      const audioUrl = speech === "script" ? (await speak(script, $("avatar-voice").value)).url : (await upload(audio)).url;
      step = "submit";
      const { task_id: taskId } = await agent("create_video_fast", { model_id: chosen.id, audio_url: audioUrl });
      void view;
      const progress = progressView(result, "progress.making");
      const task = await watchTask(taskId, progress.update);
      if (task.status !== "succeeded") {
        result.replaceChildren(h("p", { class: "notice error", role: "alert", text: taskErrorText(task.error) }));
        return;
      }
      videoResult(result, { video: task.outputs.video, preview: task.outputs.preview, cover: task.outputs.cover,
                            duration: task.outputs.duration_s, name: `${chosen.name}.mp4` });
    });
  } catch (err) {
    result.replaceChildren();
    placeError(err, RENDER_RULES, "avatar-render-error", step);
  }
}
