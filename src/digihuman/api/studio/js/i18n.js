// The studio's language: every visible string comes from strings.js through t().

import { STRINGS } from "./strings.js";

const LANG_STORE = "digihuman.lang";
const listeners = [];
const missing = new Set(); // keys asked for but not in the dictionary (the tests look at these)

export function initialLang() {
  const saved = localStorage.getItem(LANG_STORE);
  if (saved === "en" || saved === "zh") return saved;
  return (navigator.language || "en").toLowerCase().startsWith("zh") ? "zh" : "en";
}

let lang = "en";
export const currentLang = () => lang;

// The string for key in the current language; {name} placeholders are filled from vars.
export function t(key, vars = {}, fallback) {
  let s = STRINGS[lang][key];
  if (s === undefined) {
    if (fallback !== undefined) return fallback;
    missing.add(`${lang}:${key}`);
    s = STRINGS.en[key] ?? key;
  }
  return s.replace(/\{(\w+)\}/g, (m, name) => (name in vars ? String(vars[name]) : m));
}

export function has(key) {
  return STRINGS[lang][key] !== undefined;
}

// Fill every data-i18n element (text) and data-i18n-<attr> attribute under root.
export function apply(root = document) {
  for (const el of root.querySelectorAll("[data-i18n]")) el.textContent = t(el.dataset.i18n);
  for (const attr of ["placeholder", "aria-label", "title"]) {
    const data = `data-i18n-${attr}`;
    for (const el of root.querySelectorAll(`[${data}]`)) el.setAttribute(attr, t(el.getAttribute(data)));
  }
}

export function setLang(next) {
  lang = next === "zh" ? "zh" : "en";
  localStorage.setItem(LANG_STORE, lang);
  document.documentElement.lang = lang === "zh" ? "zh-CN" : "en";
  document.title = t("title");
  apply();
  for (const fn of listeners) fn(lang);
}

// Parts drawn by script register here to be drawn again in the new language.
export function onLang(fn) {
  listeners.push(fn);
}

export const missingKeys = () => [...missing];
