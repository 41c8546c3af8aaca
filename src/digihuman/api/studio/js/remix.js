// Remix: subtitles, floating captions, picture and sound changes, and re-dubbing of a video.

import { call, upload, watchTask } from "./api.js";
import { fillVoiceSelect } from "./catalog.js";
import { currentLang, onLang, t } from "./i18n.js";
import {
  $, bindDrops, bindWhen, busy, clearErrors, emptyState, h, placeError, progressView, radio, showError,
  taskErrorText, videoResult,
} from "./ui.js";

let form;
const RANGES = { "remix-speed": "×", "remix-zoom": "×", "remix-brightness": "", "remix-contrast": "",
  "remix-saturation": "", "remix-warmth": "", "remix-music-volume": "" };

const rules = () => [
  { match: /video_url/i, id: "remix-video-error", step: "video" },
  { match: /music/i, id: "remix-music-error", step: "music" },
  { match: /custom_floating_text|floating|highlight/i, id: "remix-floating-error" },
  { match: /text_content|script/i, id: "remix-script-error" },
  { match: /voice|rewrite/i, id: "remix-voice-error" },
  { match: /transforms|subtitle_style/i, id: "remix-transforms-error" },
];

export function init() {
  form = $("remix-form");
  bindWhen(form);
  bindDrops(form);
  for (const [id, unit] of Object.entries(RANGES)) {
    const input = $(id);
    const out = $(`${id}-out`);
    input.addEventListener("input", () => { out.textContent = `${Number(input.value).toFixed(2)}${unit}`; });
  }
  $("remix-voice").addEventListener("change", () => {
    $("remix-rewrite").disabled = !$("remix-voice").value;
    if (!$("remix-voice").value) $("remix-rewrite").value = "";
  });
  form.addEventListener("submit", (e) => { e.preventDefault(); submit(); });
  emptyState($("remix-result"), "remix.empty");
  onLang(voices);
}

export function show() {
  voices();
}

function voices() {
  fillVoiceSelect($("remix-voice"), { none: true, lang: currentLang() }).catch(() => {});
}

// Fill the subtitle script from elsewhere (the rewrite page).
export function useRemixScript(text) {
  $("remix-subs-script").checked = true;
  $("remix-subs-script").dispatchEvent(new Event("change", { bubbles: true }));
  $("remix-script").value = text;
}

const num = (id) => Number($(id).value);

// The request's options, holding only what differs from the defaults.
function options() {
  const transforms = {};
  if ($("remix-mirror").checked) transforms.mirror = true;
  if ($("remix-aspect").value) {
    transforms.aspect = $("remix-aspect").value;
    transforms.fill = $("remix-fill").value;
  }
  if (num("remix-speed") !== 1) transforms.speed = num("remix-speed");
  if (num("remix-zoom") !== 1) transforms.zoom = num("remix-zoom");
  const color = {};
  if (num("remix-brightness") !== 0) color.brightness = num("remix-brightness");
  if (num("remix-contrast") !== 1) color.contrast = num("remix-contrast");
  if (num("remix-saturation") !== 1) color.saturation = num("remix-saturation");
  if (num("remix-warmth") !== 0) color.warmth = num("remix-warmth");
  if (Object.keys(color).length) transforms.color = color;
  const style = {
    floating_position: $("remix-position").value,
    animation: $("remix-animation").value,
    highlight_color: $("remix-highlight").value,
  };
  if ($("remix-box").checked) style.box = true;
  if (radio(form, "remix-subs") === "none") style.enabled = false;
  return { transforms, style };
}

async function submit() {
  clearErrors(form);
  const video = $("remix-video").files[0];
  if (!video) return showError("remix-video-error", t("remix.need.video"));
  const subs = radio(form, "remix-subs");
  const script = $("remix-script").value.trim();
  if (subs === "script" && !script) return showError("remix-script-error", t("remix.need.script"));
  const floating = $("remix-floating").value.split("\n").map((s) => s.trim()).filter(Boolean);
  const { transforms, style } = options();
  const result = $("remix-result");
  let step = "video";
  try {
    await busy($("remix-submit"), "create.submitting", async () => {
      progressView(result, "progress.uploading");
      const body = { video_url: (await upload(video)).url, custom_floating_text: floating, subtitle_style: style };
      if ($("remix-music").files[0]) {
        step = "music";
        transforms.music_url = (await upload($("remix-music").files[0])).url;
        transforms.music_volume = num("remix-music-volume");
      }
      body.transforms = transforms;
      if (subs === "script") body.text_content = script;
      if ($("remix-voice").value) {
        body.voice = $("remix-voice").value;
        const rewrite = $("remix-rewrite").value;
        if (rewrite) body.rewrite = rewrite === "default" ? true : rewrite;
      }
      step = "submit";
      const { task_id: taskId } = await call("/generate_video", { method: "POST", json: body });
      step = "task";
      const view = progressView(result, "progress.remixing");
      const task = await watchTask(taskId, view.update);
      if (task.status !== "succeeded") {
        const text = task.status === "cancelled" ? t("progress.cancelled") : taskErrorText(task.error);
        result.replaceChildren(h("p", { class: "notice error", role: "alert", text }));
        return;
      }
      videoResult(result, { video: task.outputs.video, duration: task.outputs.duration_s, name: "remix.mp4" });
    });
  } catch (err) {
    result.replaceChildren();
    emptyState(result, "remix.empty");
    placeError(err, rules(), "remix-form-error", step);
  }
}
