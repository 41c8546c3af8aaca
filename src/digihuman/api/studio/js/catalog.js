// What the key owns and what the server offers: voices (stock and cloned) and trained avatars.

import { call } from "./api.js";
import { t } from "./i18n.js";
import { h } from "./ui.js";

let voices = null;
let avatars = null;

// {stock: [{id, name, language, gender, sample_url}], mine: [voice model objects]}
export function loadVoices(force = false) {
  if (!voices || force) {
    voices = Promise.all([
      call("/v1/voices").then((d) => d.voices).catch((e) => { if (e.status === 401) throw e; return []; }),
      call("/model").then((d) => d.items).catch((e) => { if (e.status === 401) throw e; return []; }),
    ]).then(([stock, mine]) => ({ stock, mine }))
      .catch((e) => { voices = null; throw e; });
  }
  return voices;
}

// The key's avatar models, newest first, as {id, name, state, progress, error, cover, created_at,
// deletable}: from GET /v1/avatars, or on a server without it from the avatar-training tasks.
export function loadAvatars(force = false) {
  if (!avatars || force) {
    avatars = call("/v1/avatars")
      .then((d) => Object.assign(d.items.map((a) => ({ ...a, cover: a.cover_url, deletable: true })), { deletable: true }))
      .catch((e) => {
        if (e.status !== 404 && e.status !== 405) throw e;
        return call("/v1/tasks", { query: { kind: "avatar.train", limit: 100 } }).then((d) => d.items.map(fromTask));
      })
      .catch((e) => { avatars = null; throw e; });
  }
  return avatars;
}

const TASK_STATE = { queued: "created", running: "training", succeeded: "trained", failed: "failed", cancelled: "failed" };

function fromTask(task) {
  const out = task.outputs || {};
  return { id: out.avatar_model_id || null, name: task.name, state: TASK_STATE[task.status], progress: task.progress,
           error: task.error ? task.error.message : null, cover: out.cover, created_at: task.created_at,
           warnings: out.warnings || [], task_id: task.id, deletable: false };
}

export function languageName(code) {
  const base = (code || "").split("-")[0].toLowerCase();
  return t(`lang.${base}`, {}, code || "");
}

export function voiceLabel(v) {
  const gender = v.gender ? t(`gender.${v.gender}`, {}, "") : "";
  return [v.name || v.id, languageName(v.language), gender].filter(Boolean).join(" · ");
}

// Fill a <select> of voices: stock voices, then the key's trained voice models.
export async function fillVoiceSelect(select, { clone = false, none = false, lang } = {}) {
  const keep = select.value;
  const { stock, mine } = await loadVoices();
  const options = [];
  if (none) options.push(h("option", { value: "", text: t("voice.none") }));
  const preferred = lang === "zh" ? "zh" : "en";
  const sorted = [...stock].sort((a, b) =>
    Number(!a.language.startsWith(preferred)) - Number(!b.language.startsWith(preferred)));
  options.push(h("optgroup", { label: t("voice.stock") },
    sorted.map((v) => h("option", { value: v.id, text: voiceLabel(v) }))));
  const trained = mine.filter((m) => m.state === "trained");
  if (trained.length) {
    options.push(h("optgroup", { label: t("voice.mine") },
      trained.map((m) => h("option", { value: m._id, text: m.title }))));
  }
  if (clone) {
    options.push(h("optgroup", { label: t("voice.other") },
      h("option", { value: "__clone__", text: t("voice.clone") })));
  }
  select.replaceChildren(...options);
  if ([...select.options].some((o) => o.value === keep)) select.value = keep;
}
