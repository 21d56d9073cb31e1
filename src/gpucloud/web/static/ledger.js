// The ledger of one project under the budgets (GET /budgets/{org}/{project}/ledger): time, kind, amount, subsidy,
// programme, ref (a job run's ref links to the job, a reservation's to the reservations page) and note, newest
// first, LEDGER_PAGE a page.
import { api } from './api.js';
import { h, raw } from './dom.js';
import { fmtNumber, fmtPoints, fmtTime, pointsDigits, t } from './i18n.js';
import { emptyRow, errorLine, table } from './common.js';

const LEDGER_PAGE = 50;
const LEDGER_KINDS = ['top_up', 'hold', 'release', 'charge', 'refund', 'expiry', 'subsidy'];

/** A job run's ref ("42#1") links to the job; a reservation's ("reservation:3") to the reservations page. */
function refCell(ref) {
  if (!ref) return h('td', { 'data-col': 'ref' }, '—');
  const job = /^(\d+)#/.exec(ref);
  const href = job ? `#/jobs/${job[1]}` : ref.startsWith('reservation:') ? '#/reservations' : null;
  return h('td', { 'data-col': 'ref' }, href ? h('a', { href }, raw(ref)) : raw(ref));
}

export const pointsCell = (value, col, digits) => h('td', { class: 'num', 'data-col': col, 'data-value': value ?? '' },
  value == null ? '—' : fmtPoints(value, digits));

export function ledgerView(ctx) {
  const title = h('h2', {});
  const body = h('div', { id: 'ledger-entries' });
  const range = h('span', { class: 'muted', id: 'ledger-range' });
  const newer = h('button', { type: 'button', class: 'secondary', id: 'ledger-prev' }, t('ledger.newer'));
  const older = h('button', { type: 'button', class: 'secondary', id: 'ledger-next' }, t('ledger.older'));
  const close = h('button', { type: 'button', class: 'secondary', id: 'ledger-close' }, t('ledger.close'));
  const card = h('section', { class: 'card', id: 'ledger', hidden: true },
    h('div', { class: 'page-head' }, title, close), h('p', { class: 'muted small' }, t('ledger.help')), body,
    h('div', { class: 'pager' }, newer, older, range));
  let which = null, page = 0, total = 0;

  async function load() {
    if (!which) return;
    const base = `/budgets/${encodeURIComponent(which.org)}/${encodeURIComponent(which.project)}/ledger`;
    const mine = which;
    let got = await api(`${base}?order=desc&offset=${page * LEDGER_PAGE}&limit=${LEDGER_PAGE}`, { signal: ctx.signal });
    const last = Math.max(0, Math.ceil(got.total / LEDGER_PAGE) - 1);
    if (page > last) {  // the ledger got shorter than the page shown: its last page
      page = last;
      got = await api(`${base}?order=desc&offset=${page * LEDGER_PAGE}&limit=${LEDGER_PAGE}`, { signal: ctx.signal });
    }
    if (mine !== which) return;
    total = got.total;
    const items = got.items;
    const from = page * LEDGER_PAGE + 1, to = page * LEDGER_PAGE + items.length;
    const digits = pointsDigits(items.flatMap((e) => [e.amount, e.subsidy]));
    const rows = items.map((e) => h('tr', { 'data-ledger-row': e.id, 'data-kind': e.kind },
      h('td', {}, fmtTime(e.at)),
      h('td', { 'data-col': 'kind' }, LEDGER_KINDS.includes(e.kind) ? t(`ledger.kind.${e.kind}`) : raw(e.kind)),
      pointsCell(e.amount, 'amount', digits), pointsCell(e.subsidy, 'subsidy', digits),
      h('td', { 'data-col': 'programme' }, e.programme ? raw(e.programme) : '—'), refCell(e.ref),
      h('td', { 'data-col': 'note', class: 'wrap' }, e.note ? raw(e.note) : '')));
    body.replaceChildren(table(['ledger.at', 'ledger.kind', 'ledger.amount', 'ledger.subsidy', 'ledger.programme', 'ledger.ref',
      'ledger.note'], rows.length ? rows : [emptyRow(7, 'ledger.empty')], { id: 'ledger-table' }));
    range.textContent = total ? t('ledger.range', { from: fmtNumber(from), to: fmtNumber(to), total: fmtNumber(total) }) : '';
    Object.assign(card.dataset, { project: `${which.org}/${which.project}`, page: String(page), total: String(total) });
    newer.disabled = page === 0;
    older.disabled = to >= total;
  }
  const go = (p) => { page = p; load().catch((err) => { if (!(err instanceof DOMException)) body.replaceChildren(errorLine(err)); }); };
  newer.addEventListener('click', () => go(page - 1));
  older.addEventListener('click', () => go(page + 1));
  close.addEventListener('click', () => { which = null; card.hidden = true; });
  return {
    card,
    open(org, project) {
      which = { org, project };
      title.replaceChildren(t('ledger.title'), ' ', raw(`${org} / ${project}`));
      body.replaceChildren();
      range.textContent = '';
      card.hidden = false;
      go(0);
      card.scrollIntoView({ block: 'nearest' });
    },
    reload: () => load(),
  };
}
