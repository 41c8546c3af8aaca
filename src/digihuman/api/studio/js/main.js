// Start-up: language, the API key dialog, and hash navigation between the pages.

import { getKey, onMissingKey, setKey } from "./api.js";
import { currentLang, initialLang, missingKeys, onLang, setLang, t } from "./i18n.js";
import { $ } from "./ui.js";
import * as create from "./create.js";
import * as avatars from "./avatars.js";
import * as live from "./live.js";
import * as voices from "./voices.js";
import * as rewrite from "./rewrite.js";
import * as remix from "./remix.js";
import * as tasks from "./tasks.js";

const PAGES = { create, avatars, live, voices, rewrite, remix, tasks };
const started = new Set();

// --- the key dialog -------------------------------------------------------------------------

let pending = null; // one open dialog serves every request that met a 401 meanwhile

function askForKey(message = "") {
  if (pending) return pending;
  const dialog = $("key-dialog");
  const input = $("key-input");
  $("key-error").textContent = message ? t("key.refused", { msg: message }) : "";
  input.value = "";
  pending = new Promise((resolve) => {
    const done = (key) => {
      dialog.removeEventListener("close", onClose);
      pending = null;
      resolve(key);
    };
    const onClose = () => {
      const key = dialog.returnValue === "save" ? input.value.trim() : "";
      if (key) setKey(key);
      done(key || null);
    };
    dialog.addEventListener("close", onClose);
  });
  if (!dialog.open) dialog.showModal();
  input.focus();
  return pending;
}

function bindKeyDialog() {
  const dialog = $("key-dialog");
  $("key-form").addEventListener("submit", (e) => {
    e.preventDefault();
    if (!$("key-input").value.trim()) {
      $("key-error").textContent = t("key.empty");
      $("key-input").focus();
      return;
    }
    dialog.close("save");
  });
  $("key-cancel").addEventListener("click", () => dialog.close("cancel"));
  $("key-button").addEventListener("click", async () => {
    const key = await askForKey();
    if (key) showPage(currentPage(), true);
  });
  onMissingKey(askForKey);
}

// --- navigation -----------------------------------------------------------------------------

const currentPage = () => {
  const name = location.hash.replace(/^#/, "").split("?")[0];
  return name in PAGES ? name : "create";
};

async function showPage(name, refresh = false) {
  for (const [page] of Object.entries(PAGES)) {
    $(`page-${page}`).hidden = page !== name;
    const link = document.querySelector(`.nav a[data-page="${page}"]`);
    if (page === name) {
      link.setAttribute("aria-current", "page");
      link.scrollIntoView({ block: "nearest", inline: "nearest" }); // the phone's tab row scrolls sideways
    }
    else link.removeAttribute("aria-current");
  }
  document.title = `${t(`nav.${name}`)} · ${t("title")}`;
  const module = PAGES[name];
  if (!started.has(name)) {
    started.add(name);
    module.init();
  }
  module.show?.(refresh);
}

function bindLang() {
  const button = $("lang-toggle");
  const label = () => {
    const other = currentLang() === "zh" ? "en" : "zh";
    button.textContent = other === "zh" ? "中文" : "English";
    button.lang = other === "zh" ? "zh-CN" : "en";
    button.setAttribute("aria-label", t("lang.switch"));
    document.title = `${t(`nav.${currentPage()}`)} · ${t("title")}`;
  };
  button.addEventListener("click", () => setLang(currentLang() === "zh" ? "en" : "zh"));
  onLang(label);
  label();
}

function boot() {
  setLang(initialLang());
  bindLang();
  bindKeyDialog();
  $("skip-link").addEventListener("click", (e) => {
    e.preventDefault();
    $("main").focus();
  });
  window.addEventListener("hashchange", () => {
    if (location.hash.replace(/^#/, "") in PAGES) {
      showPage(currentPage());
      $("main").focus({ preventScroll: true });
      window.scrollTo({ top: 0 });
    }
  });
  showPage(currentPage());
  if (!getKey()) askForKey();
  // For the browser tests: strings the dictionary lacks.
  window.digihumanStudio = { missingKeys };
}

boot();
