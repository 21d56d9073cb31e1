// The dashboard shell: login, the navigation bar (only what the token's role may use), hash routing and the
// language toggle. Pages are functions page(main, ctx) that build their DOM and register polls on ctx.
import { api, ApiError, getToken, setToken, setUnauthorizedHandler } from './api.js';
import { clear, h, raw } from './dom.js';
import { getLang, setLang, t } from './i18n.js';
import { mapPage, forgetJobs } from './map.js';
import { jobPage, jobsPage, queuePage } from './pages.js';
import { tariffsPage, usagePage } from './money.js';
import { reservationsPage } from './reservations.js';
import { orgsPage, quotasPage, tokensPage, usersPage } from './admin.js';

const ROUTES = [
  // [hash prefix, nav label key, page, roles allowed (null: everyone)]
  ['map', 'nav.map', mapPage, null],
  ['queue', 'nav.queue', queuePage, null],
  ['jobs', 'nav.jobs', jobsPage, null],
  ['reservations', 'nav.reservations', reservationsPage, null],
  ['usage', 'nav.usage', usagePage, null],
  ['tariffs', 'nav.tariffs', tariffsPage, null],
  ['orgs', 'nav.orgs', orgsPage, ['operator']],
  ['quotas', 'nav.quotas', quotasPage, ['operator', 'org-admin']],
  ['users', 'nav.users', usersPage, ['operator', 'org-admin']],
  ['tokens', 'nav.tokens', tokensPage, null],
];

let me = null;            // GET /me of the current token
let cleanups = [];        // stop the current page's polls
let loginMessage = null;  // a translation key shown on the login page

function parseHash() {
  const parts = location.hash.replace(/^#\/?/, '').split('/').filter(Boolean);
  return { name: parts[0] || 'map', arg: parts[1] };
}

export function navigate(hash) {
  if (location.hash === hash) render(); else location.hash = hash;
}

/** Run fn now and again `ms` after each run ends, until the page changes. fn gets {signal}. */
function makePoller(signal) {
  return (fn, ms) => {
    let timer = null;
    const run = async () => {
      if (signal.aborted) return;
      try { await fn(); } catch (err) { if (!(err instanceof DOMException)) console.error(err); }
      if (!signal.aborted) timer = setTimeout(run, ms);
    };
    signal.addEventListener('abort', () => clearTimeout(timer));
    run();
  };
}

function stopPage() {
  for (const fn of cleanups) fn();
  cleanups = [];
}

function langToggle() {
  // Each language is named in itself (English / 日本語), as language pickers do: not translated.
  return h('div', { class: 'lang', role: 'group' },
    ...['en', 'ja'].map((code) => h('button', {
      type: 'button', class: code === getLang() ? 'active' : '', 'data-raw': '', 'data-lang': code,
      'aria-pressed': String(code === getLang()),
      onclick: () => { setLang(code); render(); },
    }, code === 'en' ? 'English' : '日本語')));
}

function logout() {
  setToken('');
  me = null;
  forgetJobs();
  loginMessage = 'login.loggedOut';
  navigate('#/login');
}

function header(active) {
  const role = me.role;
  const nav = ROUTES.filter(([, , , roles]) => !roles || roles.includes(role)).map(([name, key]) =>
    h('a', { href: `#/${name}`, class: name === active ? 'active' : '', 'data-nav': name }, t(key)));
  return h('header', { class: 'top' },
    h('a', { class: 'brand', href: '#/map', 'data-raw': '' }, 'gpucloud'),
    h('nav', {}, ...nav),
    h('div', { class: 'who' },
      h('span', { class: 'user' }, raw(me.name), ' · ', t(`role.${role}`), me.org ? [' · ', raw(me.org)] : null),
      langToggle(),
      h('button', { type: 'button', class: 'secondary', id: 'logout', onclick: logout }, t('nav.logout'))));
}

function loginPage(root) {
  document.title = `${t('login.title')} · gpucloud`;
  const input = h('input', { type: 'password', id: 'token', name: 'token', autocomplete: 'off',
    placeholder: t('login.placeholder'), required: true });
  const error = h('p', { class: 'error', id: 'login-error' }, loginMessage ? t(loginMessage) : '');
  const form = h('form', { class: 'login card', id: 'login-form' },
    h('h1', {}, t('login.title')),
    h('p', { class: 'muted' }, t('login.help')),
    h('label', { for: 'token' }, t('login.token')),
    input,
    h('button', { type: 'submit' }, t('login.submit')),
    error);
  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    const token = input.value.trim();
    try {
      me = await api('/me', { token });
    } catch (err) {
      error.textContent = t(err instanceof ApiError && err.status === 401 ? 'login.refused' : 'error.network');
      return;
    }
    setToken(token);
    loginMessage = null;
    navigate('#/map');
  });
  root.append(h('div', { class: 'login-top' }, h('span', { class: 'brand', 'data-raw': '' }, 'gpucloud'), langToggle()),
    form);
  input.focus();
}

export async function render() {
  stopPage();
  const root = clear(document.getElementById('app'));
  const { name, arg } = parseHash();
  if (!getToken() || name === 'login') {
    if (getToken() && name === 'login') { navigate('#/map'); return; }
    loginPage(root);
    return;
  }
  if (!me) {
    try {
      me = await api('/me');
    } catch (err) {
      if (!(err instanceof ApiError && err.status === 401)) {
        root.append(h('p', { class: 'error' }, t('error.network')));
      }
      return;
    }
  }
  let route = ROUTES.find(([n]) => n === name);
  if (!route || (route[3] && !route[3].includes(me.role))) route = ROUTES[0];
  const [routeName, titleKey, page] = route;
  const main = h('main', { id: 'page', 'data-page': arg && routeName === 'jobs' ? 'job' : routeName });
  root.append(header(routeName), main);
  document.title = `${t(titleKey)} · gpucloud`;
  const controller = new AbortController();
  cleanups.push(() => controller.abort());
  const ctx = { me, signal: controller.signal, poll: makePoller(controller.signal), navigate, rerender: render };
  try {
    await (arg && routeName === 'jobs' ? jobPage(main, ctx, Number(arg)) : page(main, ctx));
  } catch (err) {
    if (!controller.signal.aborted) main.append(h('p', { class: 'error' }, t('error.load'), ' ', raw(String(err.message))));
  }
}

setUnauthorizedHandler(() => {
  if (!getToken()) return;
  setToken('');
  me = null;
  forgetJobs();
  loginMessage = 'login.expired';
  navigate('#/login');
});
window.addEventListener('hashchange', render);
render();
