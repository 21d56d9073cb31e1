// The dashboard shell: login, the header (the main pages, the others under "More"; only what the token's role
// may use), hash routing with the page's state in the query (`#/jobs?state=running`), and the language toggle.
// Pages are functions page(main, ctx) that build their DOM and register polls on ctx.
import { api, ApiError, getToken, setToken, setUnauthorizedHandler } from './api.js';
import { forgetOrgIds } from './colours.js';
import { clear, h, raw } from './dom.js';
import { getLang, setLang, t } from './i18n.js';
import { parseHash } from './params.js';
import { makePoller } from './poll.js';
import { mapPage, forgetJobs } from './map.js';
import { queuePage } from './queue.js';
import { jobsPage } from './jobs.js';
import { jobPage } from './job.js';
import { submitPage } from './submit.js';
import { reservationsPage } from './reservations.js';
import { usagePage } from './usage.js';
import { tariffsPage } from './tariffs.js';
import { programmesPage } from './programmes.js';
import { servicesPage } from './services.js';
import { quotasPage } from './quotas.js';
import { orgsPage } from './orgs.js';
import { projectsPage } from './projects.js';
import { usersPage } from './users.js';
import { tokensPage } from './tokens.js';

const MANAGERS = ['operator', 'org-admin'];
const ROUTES = [
  // [hash name, nav label key, page, roles allowed (null: everyone), in the main row]
  ['map', 'nav.map', mapPage, null, true],
  ['queue', 'nav.queue', queuePage, null, true],
  ['jobs', 'nav.jobs', jobsPage, null, true],
  ['submit', 'nav.submit', submitPage, null, true],
  ['reservations', 'nav.reservations', reservationsPage, null, true],
  ['usage', 'nav.usage', usagePage, null, true],
  ['quotas', 'nav.quotas', quotasPage, MANAGERS, false],
  ['tariffs', 'nav.tariffs', tariffsPage, null, false],
  ['programmes', 'nav.programmes', programmesPage, null, false],
  ['services', 'nav.services', servicesPage, null, false],
  ['orgs', 'nav.orgs', orgsPage, ['operator'], false],
  ['projects', 'nav.projects', projectsPage, null, false],
  ['users', 'nav.users', usersPage, MANAGERS, false],
  ['tokens', 'nav.tokens', tokensPage, null, false],
];

let me = null;            // GET /me of the current token
let cleanups = [];        // stop the current page's polls
let loginMessage = null;  // a translation key shown on the login page

export function navigate(hash) {
  if (location.hash === hash) render(); else location.hash = hash;
}

function stopPage() {
  for (const fn of cleanups) fn();
  cleanups = [];
}

function langToggle() {
  // Each language is named in itself (English / 日本語), as language pickers do: not translated.
  return h('div', { class: 'lang', role: 'group', 'aria-label': 'Language / 言語', 'data-raw': '' },
    ...['en', 'ja'].map((code) => h('button', {
      type: 'button', class: code === getLang() ? 'active' : '', 'data-raw': '', 'data-lang': code, lang: code,
      'aria-pressed': String(code === getLang()),
      onclick: () => { setLang(code); render(); },
    }, code === 'en' ? 'English' : '日本語')));
}

function forget() {
  setToken('');
  me = null;
  forgetJobs();
  forgetOrgIds();
}

function logout() {
  forget();
  loginMessage = 'login.loggedOut';
  navigate('#/login');
}

function header(active) {
  const allowed = ROUTES.filter(([, , , roles]) => !roles || roles.includes(me.role));
  const link = ([name, key]) => h('a', { href: `#/${name}`, class: name === active ? 'active' : '', 'data-nav': name,
    'aria-current': name === active ? 'page' : null }, t(key));
  const more = allowed.filter((r) => !r[4]);
  const menu = h('details', { class: `more${more.some((r) => r[0] === active) ? ' has-active' : ''}`, id: 'nav-more' },
    h('summary', {}, t('nav.more')), h('div', { class: 'menu' }, ...more.map(link)));
  const nav = h('nav', { 'aria-label': t('nav.label') }, ...allowed.filter((r) => r[4]).map(link), menu);
  nav.addEventListener('click', (ev) => { if (ev.target.closest('a')) menu.open = false; });
  return h('header', { class: 'top' },
    h('a', { class: 'brand', href: '#/map', 'data-raw': '' }, 'gpucloud'),
    nav,
    h('div', { class: 'who' },
      h('span', { class: 'user' }, raw(me.name, 'span', { title: me.org || null }), h('span', { class: 'role' }, t(`role.${me.role}`))),
      langToggle(),
      h('button', { type: 'button', class: 'secondary', id: 'logout', onclick: logout }, t('nav.logout'))));
}

function loginPage(root) {
  document.title = `${t('login.title')} · gpucloud`;
  const input = h('input', { type: 'password', id: 'token', name: 'token', autocomplete: 'off',
    placeholder: t('login.placeholder'), required: true });
  const error = h('p', { class: 'error', id: 'login-error', role: 'alert' }, loginMessage ? t(loginMessage) : '');
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
    h('main', { id: 'page', 'data-page': 'login' }, form));
  input.focus();
}

export async function render() {
  stopPage();
  const root = clear(document.getElementById('app'));
  const { name, arg, params } = parseHash();
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
  const single = arg !== undefined && routeName === 'jobs';
  const main = h('main', { id: 'page', 'data-page': single ? 'job' : routeName });
  root.append(h('a', { class: 'skip', href: '#page', onclick: (ev) => { ev.preventDefault(); main.focus(); } }, t('nav.skip')),
    header(routeName), main);
  main.tabIndex = -1;
  document.title = `${t(titleKey)} · gpucloud`;
  const controller = new AbortController();
  cleanups.push(() => controller.abort());
  const ctx = { me, params, signal: controller.signal, poll: makePoller(controller.signal), navigate, rerender: render };
  try {
    await (single ? jobPage(main, ctx, Number(arg)) : page(main, ctx));
  } catch (err) {
    if (!controller.signal.aborted) main.append(h('p', { class: 'error' }, t('error.load'), ' ', raw(String(err.message))));
  }
}

setUnauthorizedHandler(() => {
  if (!getToken()) return;
  forget();
  loginMessage = 'login.expired';
  navigate('#/login');
});
window.addEventListener('hashchange', render);
render();
