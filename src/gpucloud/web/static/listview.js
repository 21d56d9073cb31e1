// Lists that live on the server: filters, a search box, sortable columns and pages, all kept in the address
// (params.js) so a view can be shared; each refresh asks for the one page shown. Each drawing is marked in the
// browser's performance timeline (`jobs-drawn` when it ends, `jobs-draw` its duration; the same for the queue:
// benchmarks/bench_dashboard.py reads them).
import { api } from './api.js';
import { h } from './dom.js';
import { fmtNumber, t } from './i18n.js';
import { setParams } from './params.js';
import { emptyRow, errorLine, table } from './common.js';
import { localToIso } from './time.js';

export const PAGE_SIZE = 50;

/**
 * One filter control. `def`: {name, label, kind: 'search'|'text'|'select'|'date', options: [[value, label, isData]],
 * placeholder}. Calls onChange(name, value) (text after a pause in typing).
 */
function control(def, value, onChange) {
  let input;
  if (def.kind === 'select') {
    input = h('select', { 'data-filter': def.name },
      ...def.options.map(([v, label, isData]) => h('option', { value: v, 'data-raw': isData ? '' : null }, label)));
    input.value = value;
    if (input.value !== value && value) {  // an option the page does not list (yet): keep what the URL says
      input.append(h('option', { value, 'data-raw': '' }, value));
      input.value = value;
    }
    input.addEventListener('change', () => onChange(def.name, input.value));
  } else {
    input = h('input', { 'data-filter': def.name, type: def.kind === 'search' ? 'search' : def.kind === 'date' ? 'date' : 'text',
      value, placeholder: def.placeholder || '', autocomplete: 'off' });
    let timer = null;
    const fire = () => { clearTimeout(timer); onChange(def.name, input.value.trim()); };
    input.addEventListener(def.kind === 'date' ? 'change' : 'input', () => { clearTimeout(timer); timer = setTimeout(fire, 300); });
    input.addEventListener('keydown', (ev) => { if (ev.key === 'Enter') fire(); });
  }
  input.id = `filter-${def.name}`;
  return h('label', { class: `filter filter-${def.kind}` }, h('span', {}, def.label), input);
}

/** A column header: a button that sorts by `key` (again: the other way), with aria-sort. */
function sortHeader(col, sort, onSort) {
  if (!col.sort) return h('th', { class: col.num ? 'num' : '' }, col.label);
  const active = sort === col.sort || sort === `-${col.sort}`;
  const desc = sort.startsWith('-');
  const next = active && !desc ? `-${col.sort}` : col.sort;
  return h('th', { 'aria-sort': active ? (desc ? 'descending' : 'ascending') : 'none', class: col.num ? 'num' : '' },
    h('button', { type: 'button', class: 'sort', 'data-sort': col.sort, onclick: () => onSort(next) },
      col.label, h('span', { class: 'sort-mark', 'aria-hidden': 'true' }, active ? (desc ? ' ▼' : ' ▲') : '')));
}

/**
 * A server-side list bound to the URL.
 * opts: {ctx, id, path, filters: [def], columns: [{label, sort, num}], defaultSort, row(item, page) → <tr>,
 * emptyKey, query(params) → URLSearchParams for the API (from the page's params), apiSort(sort) → the API's
 * sort (default: the same), itemsOf(data), note(data) → node}
 * Returns {el, refresh}.
 */
export function serverList(opts) {
  const { ctx } = opts;
  const params = new URLSearchParams(ctx.params);
  const get = (name) => params.get(name) || '';
  const body = h('div', { id: opts.id, class: 'list-body' });
  const note = h('p', { class: 'muted small list-note', id: `${opts.id}-note`, role: 'status' });
  const pager = h('nav', { class: 'pager', 'aria-label': t('list.pages') });
  let inFlight = null, loads = 0;

  const change = (values) => {
    for (const [k, v] of Object.entries(values)) { if (v) params.set(k, v); else params.delete(k); }
    setParams(values);
    refresh(true);
  };
  const filters = h('div', { class: 'filters', role: 'search' }, ...opts.filters.map((def) => control(def, get(def.name),
    (name, value) => change({ [name]: value, page: null }))));
  const reset = h('button', { type: 'button', class: 'link', id: `${opts.id}-reset` }, t('list.reset'));
  reset.addEventListener('click', () => {
    const cleared = Object.fromEntries([...opts.filters.map((d) => [d.name, null]), ['sort', null], ['page', null]]);
    for (const input of filters.querySelectorAll('[data-filter]')) input.value = '';
    change(cleared);
  });
  filters.append(reset);

  const sort = () => get('sort') || opts.defaultSort;
  const page = () => Math.max(1, Number.parseInt(get('page'), 10) || 1);

  function draw(data) {
    const items = opts.itemsOf(data);
    const total = data.total ?? items.length;
    const pages = Math.max(1, Math.ceil(total / PAGE_SIZE));
    const headers = opts.columns.map((c) => sortHeader(c, sort(), (s) => change({ sort: s, page: null })));
    const rows = items.map((item) => opts.row(item, data));
    body.replaceChildren(table(headers, rows.length ? rows : [emptyRow(opts.columns.length, opts.emptyKey)],
      { 'data-total': total, 'data-page': page() }));
    const from = total ? (page() - 1) * PAGE_SIZE + 1 : 0;
    const to = (page() - 1) * PAGE_SIZE + items.length;
    note.replaceChildren(opts.note ? opts.note(data) : '', ' ',
      total ? t('list.range', { from: fmtNumber(from), to: fmtNumber(to), total: fmtNumber(total) }) : '');
    const go = (p) => h('button', { type: 'button', class: 'secondary', 'data-page': p, disabled: p < 1 || p > pages || p === page(),
      onclick: () => change({ page: p > 1 ? String(p) : null }) }, p < page() ? t('list.prev') : t('list.next'));
    pager.replaceChildren(go(page() - 1), h('span', { class: 'muted', 'data-pages': pages },
      t('list.pageOf', { page: fmtNumber(Math.min(page(), pages)), pages: fmtNumber(pages) })), go(page() + 1));
    pager.hidden = pages <= 1;
  }

  /** Fetch the page shown; `force`: the filters changed (a refresh in flight is superseded). */
  async function refresh(force = false) {
    if (inFlight && !force) return;
    const q = opts.query(params);
    q.set('sort', opts.apiSort ? opts.apiSort(sort()) : sort());
    q.set('offset', String((page() - 1) * PAGE_SIZE));
    q.set('limit', String(PAGE_SIZE));
    const mine = ++loads;
    const controller = new AbortController();
    ctx.signal.addEventListener('abort', () => controller.abort(), { once: true });
    if (inFlight) inFlight.abort();
    inFlight = controller;
    try {
      const data = await api(`${opts.path}?${q}`, { signal: controller.signal });
      if (mine !== loads) return;
      body.dataset.loads = String(Number(body.dataset.loads || 0) + 1);
      const started = performance.now();
      draw(data);  // always: times shown (how long a job waits) move on even when the page's data did not
      performance.measure(`${opts.id}-draw`, { start: started });
      performance.mark(`${opts.id}-drawn`);
    } catch (err) {
      if (mine === loads && !(err instanceof DOMException)) body.replaceChildren(errorLine(err));
    } finally {
      if (mine === loads) inFlight = null;
    }
  }

  const el = h('div', { class: 'server-list' }, filters, note, body, pager);
  return { el, refresh, params };
}

/** The API parameters of the filters that are set (dates as the local midnight, ISO 8601). */
export function filterQuery(params, names, dates = []) {
  const q = new URLSearchParams();
  for (const name of names) {
    const v = params.get(name);
    if (v) q.set(name, dates.includes(name) ? localToIso(v) : v);
  }
  return q;
}
