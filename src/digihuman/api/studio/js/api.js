// Talking to the digihuman API: the key, the {code, msg, data} envelope, uploads, task watching.

const KEY_STORE = "digihuman.key";
let askKey = null; // set by main.js: (message) => Promise<string|null>

export class ApiError extends Error {
  constructor(status, message, path) {
    super(message);
    this.status = status; // HTTP status, 0 when the server could not be reached
    this.path = path;
  }
}

export const getKey = () => localStorage.getItem(KEY_STORE) || "";
export const setKey = (key) => localStorage.setItem(KEY_STORE, key.trim());
export const onMissingKey = (fn) => { askKey = fn; };

async function errorOf(response, path) {
  let msg = `${response.status} ${response.statusText}`;
  try {
    const body = await response.json();
    msg = body.msg || (body.error && body.error.message) || (body.detail && String(body.detail)) || msg;
  } catch { /* not JSON: keep the status line */ }
  return new ApiError(response.status, msg, path);
}

// fetch with the key; a 401 asks for the key (once per try) and repeats the request.
export async function send(path, init = {}) {
  for (let attempt = 0; ; attempt++) {
    const headers = new Headers(init.headers || {});
    const key = getKey();
    if (key) headers.set("Authorization", `Bearer ${key}`);
    let response;
    try {
      response = await fetch(path, { ...init, headers });
    } catch (e) {
      if (e.name === "AbortError") throw e;
      throw new ApiError(0, "", path);
    }
    if (response.status === 401 && askKey && attempt < 3) {
      const err = await errorOf(response, path);
      const given = await askKey(err.message);
      if (given) continue;
      throw err;
    }
    if (!response.ok) throw await errorOf(response, path);
    return response;
  }
}

// JSON in, JSON out; the envelope is unwrapped (routes that answer other shapes come back whole).
export async function call(path, { method = "GET", json, form, query, signal } = {}) {
  const init = { method, signal };
  if (json !== undefined) {
    init.body = JSON.stringify(json);
    init.headers = { "Content-Type": "application/json" };
  } else if (form !== undefined) {
    init.body = form;
  }
  if (query) {
    const q = new URLSearchParams(Object.entries(query).filter(([, v]) => v !== undefined && v !== null && v !== ""));
    if ([...q].length) path += `?${q}`;
  }
  const response = await send(path, init);
  const body = await response.json();
  if (body && typeof body.code === "number" && "msg" in body && "data" in body) {
    if (body.code !== 200) throw new ApiError(body.code, body.msg, path);
    return body.data;
  }
  return body;
}

// The old agent API takes form fields.
export function agent(act, fields) {
  const form = new FormData();
  form.set("act", act);
  for (const [k, v] of Object.entries(fields)) form.set(k, v);
  return call("/agent_api.php", { method: "POST", form });
}

// Upload a File or Blob; returns {url, key, bytes, content_type}.
export function upload(file, name) {
  const form = new FormData();
  form.set("file", file, name || file.name || "upload");
  return call("/v1/files", { method: "POST", form });
}

// Speech for a script, made with a voice and stored as an upload: {url, blob}.
export async function speak(text, voice) {
  const response = await send("/v1/tts", {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify({ text, reference_id: voice || undefined, format: "wav" }),
  });
  const blob = await response.blob();
  const stored = await upload(blob, "speech.wav");
  return { url: stored.url, blob };
}

const FINAL = new Set(["succeeded", "failed", "cancelled"]);

// Follow a task to its end: server-sent events, else polling every 1.5 s. Resolves with the task object.
export function watchTask(id, onProgress, { signal } = {}) {
  return new Promise((resolve, reject) => {
    let closed = false;
    const started = Date.now();
    const finish = (task) => { if (!closed) { closed = true; resolve(task); } };
    const fail = (e) => { if (!closed) { closed = true; reject(e); } };
    signal?.addEventListener("abort", () => { closed = true; });

    const poll = async () => {
      while (!closed) {
        try {
          const task = await call(`/v1/tasks/${encodeURIComponent(id)}`);
          if (FINAL.has(task.status)) return finish(task);
          onProgress({ progress: task.progress, stage: task.stage, status: task.status,
                       eta_s: guessEta(task.progress, started) });
        } catch (e) {
          if (e.status && e.status !== 503) return fail(e);
        }
        await new Promise((r) => setTimeout(r, 1500));
      }
    };

    if (typeof EventSource === "undefined") return poll();
    const source = new EventSource(`/v1/tasks/${encodeURIComponent(id)}/events?key=${encodeURIComponent(getKey())}`);
    signal?.addEventListener("abort", () => source.close());
    let heard = false;
    source.addEventListener("progress", (ev) => {
      heard = true;
      const data = parse(ev.data);
      if (data) onProgress({ ...data, eta_s: data.eta_s ?? guessEta(data.progress, started) });
    });
    for (const name of FINAL) {
      source.addEventListener(name, (ev) => {
        source.close();
        const data = parse(ev.data);
        const task = data && data.data && typeof data.code === "number" ? data.data : data;
        if (task && task.outputs !== undefined) finish(task);
        else poll(); // an end without the task: ask for it
      });
    }
    source.onerror = () => {
      // The stream broke or the route is missing: polling carries on from here.
      source.close();
      if (!closed) poll();
      void heard;
    };
  });
}

function parse(text) {
  try { return JSON.parse(text); } catch { return null; }
}

function guessEta(progress, started) {
  if (!progress || progress < 3) return null;
  const elapsed = (Date.now() - started) / 1000;
  return Math.max(0, elapsed * (100 - progress) / progress);
}
