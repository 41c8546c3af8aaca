// Small DOM pieces shared by the pages: elements, field errors, drop zones, recorder, progress, results.

import { t, onLang } from "./i18n.js";

export const $ = (id) => document.getElementById(id);

export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v === undefined || v === null || v === false) continue;
    if (k === "class") el.className = v;
    else if (k === "text") el.textContent = v;
    else if (k.startsWith("on")) el.addEventListener(k.slice(2), v);
    else if (v === true) el.setAttribute(k, "");
    else el.setAttribute(k, v);
  }
  for (const child of children.flat()) {
    if (child === null || child === undefined || child === false) continue;
    el.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return el;
}

// --- errors ---------------------------------------------------------------------------------

// An API failure in plain words: a sentence for its kind, then the server's own advice.
export function errorText(err) {
  if (!err) return "";
  if (err.status === 0) return t("error.network");
  const lead = t(`error.${err.status}`, {}, "");
  const msg = err.message || "";
  if (!lead) return msg || t("error.unknown");
  return msg ? `${lead} ${capital(msg)}` : lead;
}

export function taskErrorText(error) {
  if (!error) return t("error.unknown");
  return errorText({ status: error.code, message: error.message });
}

const capital = (s) => s.charAt(0).toUpperCase() + s.slice(1);

export function showError(id, text) {
  const el = $(id);
  if (!el) return;
  el.textContent = text;
  const field = el.closest(".field");
  const input = field && field.querySelector("input:not([type=radio]):not([type=checkbox]), select, textarea");
  if (input) input.setAttribute("aria-invalid", text ? "true" : "false");
  if (text && input && typeof input.focus === "function" && !input.matches("[type=file]")) input.focus({ preventScroll: false });
  if (text) el.scrollIntoView({ block: "nearest", behavior: "smooth" });
}

export function clearErrors(root) {
  for (const el of root.querySelectorAll(".field-error")) el.textContent = "";
  for (const el of root.querySelectorAll("[aria-invalid=true]")) el.setAttribute("aria-invalid", "false");
}

// Put an error next to the field it concerns. A failed upload or speech step belongs to its own
// field; a refused request to the first field its message names; else the form's own error line.
export function placeError(err, rules, fallbackId, step) {
  const text = typeof err === "string" ? err : errorText(err);
  const msg = (err && err.message) || "";
  const own = step && rules.find((r) => r.step === step);
  const named = rules.find((r) => r.match && r.match.test(msg));
  const hit = (step !== "submit" && step !== "task" && own) || named || own;
  showError(hit ? hit.id : fallbackId, text);
  return hit ? hit.id : fallbackId;
}

// --- forms ----------------------------------------------------------------------------------

// Radio groups show the parts marked data-when="group=value".
export function bindWhen(root) {
  const update = () => {
    for (const el of root.querySelectorAll("[data-when]")) {
      const [name, value] = el.dataset.when.split("=");
      const checked = root.querySelector(`input[name="${name}"]:checked`);
      el.hidden = !checked || checked.value !== value;
    }
  };
  root.addEventListener("change", (e) => { if (e.target.type === "radio") update(); });
  update();
  return update;
}

export const radio = (root, name) => root.querySelector(`input[name="${name}"]:checked`)?.value;

// Drop zones: a file input inside a box that takes dropped files and names what was chosen.
export function bindDrops(root) {
  for (const zone of root.querySelectorAll(".drop")) {
    const input = zone.querySelector("input[type=file]");
    const name = zone.querySelector("[data-file-name]");
    zone.addEventListener("click", (e) => { if (e.target !== input) input.click(); });
    zone.addEventListener("dragover", (e) => { e.preventDefault(); zone.classList.add("over"); });
    zone.addEventListener("dragleave", () => zone.classList.remove("over"));
    zone.addEventListener("drop", (e) => {
      e.preventDefault();
      zone.classList.remove("over");
      if (!e.dataTransfer?.files?.length) return;
      input.files = e.dataTransfer.files;
      input.dispatchEvent(new Event("change", { bubbles: true }));
    });
    input.addEventListener("change", () => {
      const files = [...input.files];
      zone.classList.toggle("has-file", files.length > 0);
      if (name) name.textContent = files.map((f) => `${f.name} · ${fmtBytes(f.size)}`).join(", ");
      const err = zone.parentElement.querySelector(".field-error");
      if (err) err.textContent = "";
    });
  }
}

// A picture or a video of what the user chose, shown beside the drop zone.
export function showThumb(container, file) {
  container.replaceChildren();
  if (!file) return;
  const url = URL.createObjectURL(file);
  const media = file.type.startsWith("video/")
    ? h("video", { src: url, muted: true, playsinline: true, loop: true, autoplay: true, "aria-hidden": "true" })
    : h("img", { src: url, alt: "" });
  container.append(media);
}

export function fmtBytes(n) {
  if (n < 1024) return `${n} B`;
  if (n < 1024 * 1024) return `${(n / 1024).toFixed(0)} KB`;
  return `${(n / 1024 / 1024).toFixed(1)} MB`;
}

export function fmtSeconds(s) {
  if (s === null || s === undefined || !isFinite(s)) return "";
  s = Math.round(s);
  if (s < 60) return t("time.s", { n: s });
  return t("time.ms", { m: Math.floor(s / 60), s: String(s % 60).padStart(2, "0") });
}

export function fmtWhen(ts) {
  if (!ts) return "";
  const d = new Date(ts * 1000);
  return d.toLocaleString(document.documentElement.lang === "zh" ? "zh-CN" : "en-GB",
    { month: "short", day: "numeric", hour: "2-digit", minute: "2-digit" });
}

// --- busy buttons ---------------------------------------------------------------------------

// While work runs the button is disabled and says labelKey; then it gets its own label back.
export async function busy(button, labelKey, work) {
  const before = button.dataset.i18n;
  const text = button.textContent;
  button.disabled = true;
  button.classList.add("is-busy");
  button.dataset.i18n = labelKey;
  button.textContent = t(labelKey);
  try {
    return await work();
  } finally {
    button.disabled = false;
    button.classList.remove("is-busy");
    if (before) {
      button.dataset.i18n = before;
      button.textContent = t(before);
    } else {
      delete button.dataset.i18n;
      button.textContent = text;
    }
  }
}

// --- progress -------------------------------------------------------------------------------

// A bar with the stage and the time left; text is announced politely when the stage changes.
export function progressView(container, titleKey = "progress.working") {
  const bar = h("div", { class: "bar-fill" });
  const track = h("div", { class: "bar", role: "progressbar", "aria-valuemin": "0", "aria-valuemax": "100",
                           "aria-valuenow": "0", "aria-label": t(titleKey) }, bar);
  const pct = h("span", { class: "pct", text: "0%" });
  const stage = h("span", { class: "stage", text: t("progress.queued") });
  const eta = h("span", { class: "eta" });
  const live = h("p", { class: "sr-only", "aria-live": "polite" });
  const box = h("div", { class: "progress" },
    h("div", { class: "progress-top" }, h("strong", { text: t(titleKey) }), pct), track,
    h("div", { class: "progress-meta" }, stage, eta), live);
  container.replaceChildren(box);
  let lastStage = "";
  return {
    update({ progress = 0, stage: name, status, eta_s }) {
      const p = Math.max(0, Math.min(100, Number(progress) || 0));
      bar.style.width = `${p}%`;
      track.setAttribute("aria-valuenow", String(Math.round(p)));
      pct.textContent = `${Math.round(p)}%`;
      const label = name || (status === "queued" ? t("progress.queued") : t("progress.starting"));
      stage.textContent = label;
      eta.textContent = eta_s ? t("progress.eta", { time: fmtSeconds(eta_s) }) : "";
      if (label !== lastStage) { live.textContent = label; lastStage = label; }
    },
    remove() { box.remove(); },
  };
}

// --- results --------------------------------------------------------------------------------

// The finished video: a player, a download link, the animated preview and the cover.
export function videoResult(container, { video, preview, cover, duration, name = "digihuman.mp4" }) {
  const player = h("video", { src: video, controls: true, playsinline: true, preload: "metadata",
                              class: "player", "aria-label": t("result.video") });
  const parts = [player,
    h("div", { class: "row wrap" },
      h("a", { class: "button primary", href: video, download: name, text: t("result.download") }),
      duration ? h("span", { class: "hint", text: t("result.length", { time: fmtSeconds(duration) }) }) : null)];
  const extras = [];
  if (preview) extras.push(h("figure", {}, h("img", { src: preview, alt: t("result.preview") }),
    h("figcaption", { text: t("result.preview") })));
  if (cover) extras.push(h("figure", {}, h("img", { src: cover, alt: t("result.cover") }),
    h("figcaption", { text: t("result.cover") })));
  if (extras.length) parts.push(h("div", { class: "figures" }, extras));
  container.replaceChildren(...parts);
  return player;
}

export function emptyState(container, textKey, icon = "video") {
  const paths = {
    video: '<rect x="3" y="5" width="13" height="14" rx="2"/><path d="M16 10l5-3v10l-5-3"/>',
    list: '<path d="M9 6h11M9 12h11M9 18h11M4 6h1M4 12h1M4 18h1"/>',
  };
  const el = h("div", { class: "empty" });
  el.innerHTML = `<svg viewBox="0 0 24 24" aria-hidden="true">${paths[icon]}</svg>`;
  const p = h("p", { "data-i18n": textKey, text: t(textKey) });
  el.append(p);
  container.replaceChildren(el);
}

// --- recorder -------------------------------------------------------------------------------

// Record from the microphone with MediaRecorder; onRecorded(blob) gets each finished take.
export function recorder(container, onRecorded) {
  const start = h("button", { type: "button", class: "rec-button" });
  const time = h("span", { class: "rec-time", "aria-live": "off", text: "0:00" });
  const audio = h("audio", { controls: true, hidden: true });
  const note = h("p", { class: "hint", role: "status" });
  container.replaceChildren(h("div", { class: "rec-row" }, start, time), audio, note);
  let media = null, chunks = [], timer = 0, began = 0, stream = null, last = null;
  const label = () => {
    start.textContent = media ? t("rec.stop") : t("rec.start");
    start.classList.toggle("on", !!media);
  };
  label();
  onLang(label);
  start.addEventListener("click", async () => {
    if (media) { media.stop(); return; }
    note.textContent = "";
    if (!navigator.mediaDevices?.getUserMedia || typeof MediaRecorder === "undefined") {
      note.textContent = t("rec.unsupported");
      return;
    }
    try {
      stream = await navigator.mediaDevices.getUserMedia({ audio: true });
    } catch {
      note.textContent = t("rec.denied");
      return;
    }
    chunks = [];
    media = new MediaRecorder(stream);
    media.ondataavailable = (e) => { if (e.data.size) chunks.push(e.data); };
    media.onstop = () => {
      clearInterval(timer);
      stream.getTracks().forEach((tr) => tr.stop());
      const blob = new Blob(chunks, { type: media.mimeType || "audio/webm" });
      media = null;
      label();
      last = blob;
      audio.src = URL.createObjectURL(blob);
      audio.hidden = false;
      note.textContent = t("rec.done", { time: time.textContent });
      onRecorded(blob);
    };
    media.start(250);
    began = Date.now();
    timer = setInterval(() => {
      const s = Math.floor((Date.now() - began) / 1000);
      time.textContent = `${Math.floor(s / 60)}:${String(s % 60).padStart(2, "0")}`;
    }, 250);
    label();
  });
  return { get blob() { return last; }, clear() { last = null; audio.hidden = true; note.textContent = ""; } };
}

// A blob's file name with the extension its type suggests (the server probes the content anyway).
export function blobName(blob, base) {
  const type = blob.type || "";
  const ext = type.includes("ogg") ? "ogg" : type.includes("mp4") ? "m4a" : type.includes("wav") ? "wav" : "webm";
  return `${base}.${ext}`;
}
