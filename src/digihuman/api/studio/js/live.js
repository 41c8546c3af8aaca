// Live: a trained avatar speaking in real time. POST /v1/live starts a session; its picture and sound come
// over WebRTC (WHEP: one SDP offer, one answer), its events over the same connection's data channel, and
// what to say goes to POST /v1/live/{id}/say|chat|interrupt. Where WebRTC cannot connect (no WebRTC in
// the browser, or no route between it and the server) the session's WebSocket carries both instead: its
// fragmented MP4 plays through Media Source Extensions. The microphone path is: record → transcribe
// (/v1/audio/transcriptions) → chat → the avatar speaks the answer.

import { ApiError, call, send } from "./api.js";
import { fillVoiceSelect, loadAvatars } from "./catalog.js";
import { currentLang, onLang, t } from "./i18n.js";
import { $, busy, clearErrors, errorText, h, radio, showError } from "./ui.js";

let live = null; // {session, pc, viewer, ws}
let recording = null; // {media, stream, chunks}
let state = { key: "live.state.off", vars: {} };

export function init() {
  $("live-start-form").addEventListener("submit", (e) => { e.preventDefault(); start(); });
  $("live-stop").addEventListener("click", () => stop());
  $("live-say-form").addEventListener("submit", (e) => { e.preventDefault(); say(); });
  $("live-interrupt").addEventListener("click", () => control("interrupt").catch(showControlError));
  $("live-mic").addEventListener("click", () => (recording ? finishRecording() : record()));
  $("live-text").addEventListener("keydown", (e) => {
    if (e.key === "Enter" && !e.shiftKey && !e.isComposing) { e.preventDefault(); say(); }
  });
  window.addEventListener("pagehide", () => { if (live) end(live, true); });
  onLang(() => { fill(); drawState(); micLabel(); });
  drawState();
  micLabel();
  controls(false);
}

export function show(force) {
  fill(force);
}

async function fill(force = false) {
  const select = $("live-avatar");
  const keep = select.value;
  let items = [];
  try { items = await loadAvatars(force); } catch { /* a refused key has opened the key dialog */ }
  const trained = items.filter((a) => a.state === "trained" && a.id);
  select.replaceChildren(...(trained.length
    ? trained.map((a) => h("option", { value: a.id, text: a.name || a.id }))
    : [h("option", { value: "", text: t("live.avatar.none") })]));
  if ([...select.options].some((o) => o.value === keep)) select.value = keep;
  fillVoice().catch(() => {});
  fillChatModels().catch(() => {});
}

// Stock and cloned voices, after "Default voice" (the server then picks its stock voice).
async function fillVoice() {
  const select = $("live-voice");
  const keep = select.value;
  await fillVoiceSelect(select, { lang: currentLang() });
  select.prepend(h("option", { value: "", text: t("live.voice.default") }));
  select.value = [...select.options].some((o) => o.value === keep && keep) ? keep : "";
}

async function fillChatModels() {
  const select = $("live-chat-model");
  const keep = select.value;
  const list = await call("/v1/models");
  // The rewrite presets rewrite a script; a conversation wants the plain models.
  const ids = (list.data || []).map((m) => m.id).filter((id) => !id.startsWith("rewrite"));
  select.replaceChildren(h("option", { value: "", text: t("live.chat.none") }),
    ...ids.map((id) => h("option", { value: id, text: id })));
  if ([...select.options].some((o) => o.value === keep)) select.value = keep;
  else if (ids.length) select.value = ids[0];
}

// --- the session ----------------------------------------------------------------------------

async function start() {
  const form = $("live-start-form");
  clearErrors(form);
  const avatar = $("live-avatar").value;
  if (!avatar) { showError("live-avatar-error", t("live.need.avatar")); return; }
  if (live) await stop();
  await busy($("live-start"), "live.starting", async () => {
    setState("live.state.starting");
    let session;
    try {
      session = await call("/v1/live", { method: "POST", json: {
        avatar_id: avatar,
        voice: $("live-voice").value || undefined,
        chat_model: $("live-chat-model").value || undefined,
      } });
    } catch (err) {
      setState("live.state.off");
      showError(/avatar|model_id/i.test(err.message) ? "live-avatar-error"
        : /voice/i.test(err.message) ? "live-voice-error" : "live-form-error", errorText(err));
      return;
    }
    const current = { session, pc: null, viewer: null, ws: null };
    live = current;
    try {
      await connect(current);
    } catch (err) {
      if (live === current) live = null;
      end(current, false);
      setState("live.state.off");
      showError("live-form-error", err instanceof ApiError ? errorText(err)
        : t("live.connect.failed", { msg: err.message || String(err) }));
      return;
    }
    controls(true);
    setState("live.state.idle");
    $("live-text").focus();
  });
}

// WebRTC first; the WebSocket when WebRTC cannot connect. A refusal (wrong token, session gone) is final.
async function connect(current) {
  try {
    await watch(current);
    $("live-stage").dataset.transport = "webrtc";
    return;
  } catch (err) {
    if (err instanceof ApiError && err.status >= 400 && err.status < 500) throw err;
    if (current.pc) {
      current.pc.onconnectionstatechange = null; // this close is ours, not a lost connection
      current.pc.close();
      current.pc = null;
    }
    if (current.viewer) fetch(current.viewer, { method: "DELETE" }).catch(() => {});
  }
  await watchSocket(current);
  $("live-stage").dataset.transport = "websocket";
}

// Ask the server for the session's picture and sound over WebRTC, WHEP-style.
async function watch(session) {
  const pc = new RTCPeerConnection({ iceServers: [] }); // the server answers with its LAN addresses
  session.pc = pc;
  pc.addTransceiver("video", { direction: "recvonly" });
  pc.addTransceiver("audio", { direction: "recvonly" });
  const events = pc.createDataChannel("events");
  events.onmessage = (e) => { try { onEvent(session, JSON.parse(e.data)); } catch { /* not an event */ } };
  const stream = new MediaStream();
  const video = $("live-video");
  pc.ontrack = (e) => {
    stream.addTrack(e.track);
    video.srcObject = stream;
    video.play().catch(() => { video.controls = true; }); // autoplay refused: the viewer presses play
  };
  pc.onconnectionstatechange = () => {
    if (session === live && ["failed", "closed"].includes(pc.connectionState)) {
      setState("live.state.lost");
      controls(false);
    }
  };
  await pc.setLocalDescription(await pc.createOffer());
  await gathered(pc, 3000); // the offer carries every candidate: WHEP here has no trickle
  const response = await fetch(session.session.whep_url, {
    method: "POST", headers: { "Content-Type": "application/sdp" }, body: pc.localDescription.sdp,
  });
  if (response.status !== 201) {
    let msg = `${response.status} ${response.statusText}`;
    try { msg = (await response.json()).msg || msg; } catch { /* not JSON */ }
    throw new ApiError(response.status, msg, session.session.whep_url);
  }
  session.viewer = new URL(response.headers.get("Location") || "", session.session.whep_url).href;
  await pc.setRemoteDescription({ type: "answer", sdp: await response.text() });
  await connected(pc, 8000);
}

function connected(pc, timeoutMs) {
  return new Promise((resolve, reject) => {
    const check = () => {
      if (pc.connectionState === "connected") resolve();
      else if (["failed", "closed"].includes(pc.connectionState)) reject(new Error(`WebRTC ${pc.connectionState}`));
    };
    pc.addEventListener("connectionstatechange", check);
    check();
    setTimeout(() => reject(new Error("WebRTC did not connect")), timeoutMs);
  });
}

// The session's WebSocket: binary messages are one fragmented MP4 (init segment first), text ones events.
async function watchSocket(session) {
  if (typeof MediaSource === "undefined") throw new Error("no Media Source Extensions");
  const video = $("live-video");
  const source = new MediaSource();
  video.srcObject = null;
  video.src = URL.createObjectURL(source);
  await new Promise((resolve) => source.addEventListener("sourceopen", resolve, { once: true }));
  const ws = new WebSocket(session.session.ws_url);
  ws.binaryType = "arraybuffer";
  session.ws = ws;
  let buffer = null;
  const pending = [];
  const feed = () => {
    if (!buffer || buffer.updating || !pending.length) return;
    try { buffer.appendBuffer(pending.shift()); } catch { /* the source was closed: the session ended */ }
  };
  const keepLive = () => {
    // Stay at the live edge (a tab in the background falls behind) and keep only the last half minute.
    const ranges = buffer.buffered;
    if (!ranges.length) return;
    const edge = ranges.end(ranges.length - 1);
    if (edge - video.currentTime > 1.5) video.currentTime = edge - 0.3;
    if (!buffer.updating && video.currentTime - ranges.start(0) > 40) buffer.remove(0, video.currentTime - 30);
  };
  await new Promise((resolve, reject) => {
    setTimeout(() => reject(new Error("the WebSocket sent no picture")), 10000);
    ws.onerror = () => reject(new Error("the WebSocket could not connect"));
    ws.onclose = () => {
      reject(new Error("the WebSocket closed"));
      if (session === live) { setState("live.state.lost"); controls(false); }
    };
    ws.onmessage = (e) => {
      if (typeof e.data === "string") {
        try { onEvent(session, JSON.parse(e.data)); } catch { /* not an event */ }
        return;
      }
      const data = new Uint8Array(e.data);
      if (!buffer) {
        buffer = source.addSourceBuffer(`video/mp4; codecs="${codecsOf(data)}"`);
        buffer.addEventListener("updateend", () => { keepLive(); feed(); });
        video.play().catch(() => { video.controls = true; });
        resolve();
      }
      pending.push(data);
      feed();
    };
  });
}

// The codecs string of an init segment: H.264 as its avcC box says, and AAC-LC.
function codecsOf(init) {
  for (let i = 4; i + 8 < init.length; i++) {
    if (init[i] === 0x61 && init[i + 1] === 0x76 && init[i + 2] === 0x63 && init[i + 3] === 0x43) { // "avcC"
      const hex = (b) => b.toString(16).padStart(2, "0");
      return `avc1.${hex(init[i + 5])}${hex(init[i + 6])}${hex(init[i + 7])},mp4a.40.2`;
    }
  }
  return "avc1.42e01e,mp4a.40.2";
}

function gathered(pc, timeoutMs) {
  if (pc.iceGatheringState === "complete") return Promise.resolve();
  return new Promise((resolve) => {
    const done = () => { if (pc.iceGatheringState === "complete") { pc.removeEventListener("icegatheringstatechange", done); resolve(); } };
    pc.addEventListener("icegatheringstatechange", done);
    setTimeout(resolve, timeoutMs); // what was gathered by then is enough on a LAN
  });
}

async function stop() {
  const was = live;
  live = null;
  controls(false);
  setState("live.state.off");
  if (was) await end(was, false);
}

// Close the peer connection and end the session on the server (keepalive: also when the page goes).
async function end(session, leaving) {
  session.pc?.close();
  if (session.ws) { session.ws.onclose = null; session.ws.close(); }
  const video = $("live-video");
  if (!leaving) {
    video.srcObject = null;
    if (video.src) { URL.revokeObjectURL(video.src); video.removeAttribute("src"); video.load(); }
  }
  try {
    await send(`/v1/live/${encodeURIComponent(session.session.session_id)}`, { method: "DELETE", keepalive: true });
  } catch { /* already ended (idle timeout or server restart) */ }
}

// An event still in flight when its session was stopped must not bring the stopped state back.
function onEvent(session, event) {
  if (session !== live) return;
  if (event.type === "speaking") setState("live.state.speaking", { text: event.text || "" });
  else if (event.type === "idle") setState("live.state.idle");
  else if (event.type === "error") logLine(t("live.error", { msg: event.msg || "" }), "error");
}

// --- speaking -------------------------------------------------------------------------------

async function control(action, text) {
  if (!live) throw new ApiError(409, t("live.need.start"), "");
  const id = encodeURIComponent(live.session.session_id);
  const token = new URL(live.session.whep_url).searchParams.get("token") || "";
  return call(`/v1/live/${id}/${action}?token=${encodeURIComponent(token)}`, {
    method: "POST", json: text === undefined ? {} : { text },
  });
}

async function say(text = $("live-text").value.trim()) {
  showError("live-text-error", "");
  if (!live) { showError("live-text-error", t("live.need.start")); return; }
  if (!text) { showError("live-text-error", t("live.need.text")); return; }
  const mode = radio($("live-say-form"), "live-mode");
  if (mode === "chat" && !$("live-chat-model").value) { showError("live-text-error", t("live.need.chat")); return; }
  logLine(text, mode === "chat" ? "you" : "say");
  try {
    await control(mode, text);
    $("live-text").value = "";
  } catch (err) {
    showControlError(err);
  }
}

function showControlError(err) {
  showError("live-text-error", err instanceof ApiError && err.path === "" ? err.message : errorText(err));
}

function logLine(text, kind) {
  const log = $("live-log");
  log.append(h("li", { class: `live-line ${kind}` }, h("span", { class: "who", text: t(`live.log.${kind}`) }), text));
  while (log.children.length > 30) log.firstElementChild.remove();
  log.scrollTop = log.scrollHeight;
}

// --- the microphone -------------------------------------------------------------------------

async function record() {
  showError("live-text-error", "");
  if (!navigator.mediaDevices?.getUserMedia || typeof MediaRecorder === "undefined") {
    showError("live-text-error", t("rec.unsupported"));
    return;
  }
  let stream;
  try { stream = await navigator.mediaDevices.getUserMedia({ audio: true }); } catch {
    showError("live-text-error", t("rec.denied"));
    return;
  }
  const media = new MediaRecorder(stream);
  recording = { media, stream, chunks: [] };
  media.ondataavailable = (e) => { if (e.data.size) recording?.chunks.push(e.data); };
  media.start(250);
  micLabel();
}

async function finishRecording() {
  const { media, stream, chunks } = recording;
  const stopped = new Promise((resolve) => { media.onstop = resolve; });
  media.stop();
  await stopped;
  stream.getTracks().forEach((tr) => tr.stop());
  recording = null;
  micLabel();
  const blob = new Blob(chunks, { type: media.mimeType || "audio/webm" });
  await busy($("live-mic"), "live.mic.hearing", async () => {
    const form = new FormData();
    form.set("file", blob, blob.type.includes("ogg") ? "speech.ogg" : "speech.webm");
    form.set("model", "whisper-1");
    let text = "";
    try {
      text = ((await call("/v1/audio/transcriptions", { method: "POST", form })).text || "").trim();
    } catch (err) {
      showError("live-text-error", errorText(err));
      return;
    }
    if (!text) { showError("live-text-error", t("live.mic.nothing")); return; }
    // A spoken question wants an answer: chat when a chat model is chosen, else the avatar repeats it.
    if ($("live-chat-model").value) $("live-mode-chat").checked = true;
    await say(text);
  });
}

function micLabel() {
  const button = $("live-mic");
  if (button.classList.contains("is-busy")) return;
  button.textContent = t(recording ? "live.mic.stop" : "live.mic.start");
  button.classList.toggle("on", Boolean(recording));
  button.setAttribute("aria-pressed", recording ? "true" : "false");
}

// --- state ----------------------------------------------------------------------------------

function controls(on) {
  for (const id of ["live-send", "live-interrupt", "live-mic"]) $(id).disabled = !on;
  $("live-stop").hidden = !on;
  $("live-stage").classList.toggle("on", on);
}

function setState(key, vars = {}) {
  state = { key, vars };
  drawState();
}

function drawState() {
  $("live-state").textContent = t(state.key, state.vars);
  $("live-state").dataset.state = state.key.split(".").pop();
}
