// Translation: one dictionary per language (i18n/en.js, i18n/ja.js, the same keys), the choice kept in
// localStorage. t('key', {name: value}) fills {name} placeholders.
import en from './i18n/en.js';
import ja from './i18n/ja.js';

export const DICTS = { en, ja };
export const LANGS = ['en', 'ja'];
const LANG_KEY = 'gpucloud.lang';

let lang = LANGS.includes(localStorage.getItem(LANG_KEY)) ? localStorage.getItem(LANG_KEY)
  : ((navigator.language || '').toLowerCase().startsWith('ja') ? 'ja' : 'en');
document.documentElement.lang = lang;

export function getLang() { return lang; }
export function setLang(value) {
  lang = LANGS.includes(value) ? value : 'en';
  localStorage.setItem(LANG_KEY, lang);
  document.documentElement.lang = lang;
}

export function t(key, vars) {
  let text = DICTS[lang][key] ?? DICTS.en[key];
  if (text === undefined) { console.warn(`missing translation: ${key}`); text = key; }
  if (vars) text = text.replace(/\{(\w+)\}/g, (m, name) => (name in vars ? String(vars[name]) : m));
  return text;
}

/** t() with placeholders filled by DOM nodes (or text): the text around them as strings, in order. */
export function tParts(key, vars) {
  const parts = [];
  let last = 0;
  const text = t(key);
  for (const m of text.matchAll(/\{(\w+)\}/g)) {
    if (!(m[1] in vars)) continue;
    if (m.index > last) parts.push(text.slice(last, m.index));
    parts.push(vars[m[1]]);
    last = m.index + m[0].length;
  }
  if (last < text.length) parts.push(text.slice(last));
  return parts;
}

/** A count with its unit in the right number: tn('count.gpus', 1) → "1 GPU" (keys `….one` and `….other`). */
export function tn(key, n, vars = {}) {
  return t(`${key}.${n === 1 ? 'one' : 'other'}`, { n: fmtNumber(n), ...vars });
}

/** t() for a key that may not exist (e.g. a state or a wait reason from the server): null when missing. */
export function tMaybe(key, vars) { return key in DICTS.en ? t(key, vars) : null; }

const locale = () => (lang === 'ja' ? 'ja-JP' : 'en-GB');

export function fmtTime(epoch) {
  if (epoch === null || epoch === undefined) return '—';
  return new Intl.DateTimeFormat(locale(), { dateStyle: 'short', timeStyle: 'medium' }).format(new Date(epoch * 1000));
}

export function fmtNumber(n, digits = 0, minDigits = digits) {
  return new Intl.NumberFormat(locale(), { maximumFractionDigits: digits, minimumFractionDigits: minDigits }).format(n);
}

/** How many decimals (2 to 4) show every one of these point amounts (decimal strings) exactly: a column of
 * amounts uses one number of decimals, so "100.00" and "0.6667" become "100.0000" and "0.6667". */
export function pointsDigits(values) {
  let digits = 2;
  for (const v of values) {
    if (v === null || v === undefined) continue;
    const frac = String(v).split('.')[1] || '';
    digits = Math.max(digits, frac.replace(/0+$/, '').length);
  }
  return Math.min(4, digits);
}

/** Points (a decimal string from the API, 4 decimals) with `digits` decimals (default: as many as it needs,
 * 2 to 4): "100.00", "0.6667". */
export function fmtPoints(value, digits = pointsDigits([value])) {
  return fmtNumber(Number(value), digits, digits);
}

/** 5430 s → "1h 30m 30s" / "1時間30分30秒". */
export function fmtDuration(seconds) {
  if (seconds === null || seconds === undefined || !Number.isFinite(seconds)) return '—';
  let s = Math.max(0, Math.round(seconds));
  const parts = [];
  for (const [unit, size] of [['d', 86400], ['h', 3600], ['m', 60]]) {
    if (s >= size) { parts.push(t(`dur.${unit}`, { n: Math.floor(s / size) })); s %= size; }
  }
  if (s || !parts.length) parts.push(t('dur.s', { n: s }));
  return parts.slice(0, 2).join(t('dur.sep'));
}
