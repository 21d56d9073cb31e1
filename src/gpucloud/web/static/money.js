// Money pages: usage and budgets (balances, held, cap and expiry of each project the caller may see; GPU-hours and
// points per day or month from GET /usage/series, drawn as SVG bar charts; top-ups for operators) and tariffs
// (the versions, and loading a new one from YAML or JSON for operators).
import { ApiError, api } from './api.js';
import { h, raw } from './dom.js';
import { fmtDuration, fmtNumber, fmtPoints, fmtTime, getLang, t, tMaybe } from './i18n.js';
import { PALETTE, stackedBars } from './chart.js';
import { emptyRow, errorLine, field, form, table } from './common.js';

const now = () => Date.now() / 1000;

const pointsCell = (value, col) => h('td', { class: 'num', 'data-col': col, 'data-value': value ?? '' },
  value == null ? '—' : fmtPoints(value));

function expiryCell(at) {
  if (at == null) return h('td', { 'data-col': 'expires', 'data-value': '' }, t('budgets.noExpiry'));
  return h('td', { 'data-col': 'expires', 'data-value': String(at) }, fmtTime(at), ' ',
    at <= now() ? h('span', { class: 'badge state-failed' }, t('budgets.expired')) : null);
}

/** "2023-11-14" / "2023-11" (UTC) as a short local label. */
function bucketLabel(label, bucket) {
  const [y, m, d] = label.split('-').map(Number);
  const date = new Date(Date.UTC(y, m - 1, d || 1));
  const opts = bucket === 'day' ? { month: 'numeric', day: 'numeric', timeZone: 'UTC' }
    : { year: 'numeric', month: 'short', timeZone: 'UTC' };
  return new Intl.DateTimeFormat(getLang() === 'ja' ? 'ja-JP' : 'en-GB', opts).format(date);
}

export async function usagePage(main, ctx) {
  const operator = ctx.me.role === 'operator';
  const budgetsBox = h('div', { id: 'usage' });
  const bucketSel = h('select', { id: 'usage-bucket' }, h('option', { value: 'day' }, t('usage.byDay')),
    h('option', { value: 'month' }, t('usage.byMonth')));
  const groupSel = h('select', { id: 'usage-group' }, h('option', { value: 'org' }, t('usage.groupOrg')),
    h('option', { value: 'project' }, t('usage.groupProject')));
  const chargingNote = h('p', { class: 'muted', id: 'usage-charging' });
  const charts = h('div', { class: 'charts', id: 'usage-charts' });
  const budgetsCard = h('section', { class: 'card' }, h('h2', {}, t('budgets.title')),
    h('p', { class: 'muted' }, t(operator ? 'budgets.scope.operator' : 'budgets.scope.org')), budgetsBox);
  const top = h('div', { class: operator ? 'cols' : '' }, budgetsCard);
  const ledger = ledgerView(ctx);
  main.append(h('div', { class: 'page-head' }, h('h1', {}, t('usage.title'))), top, ledger.card,
    h('section', { class: 'card' },
      h('div', { class: 'page-head' }, h('h2', {}, t('usage.overTime')),
        h('label', {}, t('usage.bucket'), ' ', bucketSel), h('label', {}, t('usage.group'), ' ', groupSel)),
      chargingNote, charts));

  let rows = [];
  const projectSel = h('select', { id: 'topup-project' });
  if (operator) {
    const amount = h('input', { id: 'topup-amount', inputmode: 'decimal' });
    const cap = h('input', { id: 'topup-cap', inputmode: 'decimal', placeholder: t('budgets.noCap') });
    const expires = h('input', { id: 'topup-expires', type: 'date' });
    const note = h('input', { id: 'topup-note' });
    top.append(form('topup-form', 'topup.title', [field('topup.project', 'project', projectSel),
      field('topup.amount', 'amount', amount), field('topup.cap', 'cap', cap),
      field('topup.expires', 'expires_at', expires), field('topup.note', 'note', note)], 'topup.submit', async (el) => {
      const [org, project] = JSON.parse(projectSel.value || '[]');
      if (!org) return;
      const body = { amount: amount.value.trim(), note: note.value };
      if (cap.value.trim()) body.cap = cap.value.trim();
      if (expires.value) {
        const [y, m, d] = expires.value.split('-').map(Number);
        body.expires_at = Date.UTC(y, m - 1, d) / 1000;
      }
      const b = await api(`/budgets/${encodeURIComponent(org)}/${encodeURIComponent(project)}/topup`, { method: 'POST', body });
      el.querySelector('.form-result').append(h('span', { class: 'ok', id: 'topup-done' },
        t('topup.done', { amount: fmtPoints(body.amount), balance: fmtPoints(b.balance) }), ' ', raw(`${org} / ${project}`)));
      amount.value = '';
      await loadBudgets();
    }, h('p', { class: 'muted small' }, t('topup.help'))));
  }

  async function loadBudgets() {
    rows = await api('/budgets', { signal: ctx.signal });
    const trs = rows.map((b) => h('tr', { 'data-budget-row': `${b.org}/${b.project}` },
      h('td', {}, raw(b.org)), h('td', {}, raw(b.project)), pointsCell(b.balance, 'balance'), pointsCell(b.held, 'held'),
      pointsCell(b.available, 'available'), pointsCell(b.spent, 'spent'),
      b.cap == null ? h('td', { 'data-col': 'cap', 'data-value': '' }, t('budgets.noCap')) : pointsCell(b.cap, 'cap'),
      expiryCell(b.expires_at),
      h('td', {}, h('button', { type: 'button', class: 'link', 'data-ledger': `${b.org}/${b.project}`,
        onclick: () => ledger.open(b.org, b.project) }, t('ledger.open')))));
    budgetsBox.replaceChildren(table(['job.org', 'job.project', 'budgets.balance', 'budgets.held', 'budgets.available',
      'budgets.spent', 'budgets.cap', 'budgets.expires', ''], trs.length ? trs : [emptyRow(9, 'budgets.empty')], { id: 'budgets' }));
    if (operator) {
      const keep = projectSel.value;
      projectSel.replaceChildren(...rows.map((b) => raw(`${b.org} / ${b.project}`, 'option', { value: JSON.stringify([b.org, b.project]) })));
      if (keep && [...projectSel.options].some((o) => o.value === keep)) projectSel.value = keep;
    }
  }

  async function loadSeries() {
    const bucket = bucketSel.value, group = groupSel.value;
    const [doc, tariffs] = await Promise.all([api(`/usage/series?bucket=${bucket}`, { signal: ctx.signal }),
      api('/tariffs', { signal: ctx.signal })]);
    // GPU-hours come from the jobs' runs whether or not a tariff exists; points only once charging is on, so
    // without a tariff the points chart is left out (it could only be empty) and the note says why.
    const charging = tariffs.tariffs.length > 0;
    chargingNote.textContent = charging ? t('usage.fromLedger') : t('usage.chargingOff');
    chargingNote.dataset.charging = String(charging);
    const buckets = doc.buckets.map((b) => ({ key: b.label, label: bucketLabel(b.label, bucket) }));
    const byKey = new Map();
    for (const it of doc.items) {
      const key = group === 'org' ? it.org : `${it.org}/${it.project}`;
      if (!byKey.has(key)) {
        byKey.set(key, { key, name: group === 'org' ? it.org : `${it.org} / ${it.project}`, hours: new Map(), points: new Map() });
      }
      const se = byKey.get(key);
      se.hours.set(it.bucket, (se.hours.get(it.bucket) || 0) + Number(it.gpu_hours));
      se.points.set(it.bucket, (se.points.get(it.bucket) || 0) + Number(it.points));
    }
    const list = [...byKey.values()].sort((a, b) => a.key.localeCompare(b.key));
    list.forEach((se, i) => { se.colour = PALETTE[i % PALETTE.length]; });
    // GPU-hours and points are exact to 0.0001: small values keep their decimals, large ones drop them.
    const fmt2 = (v) => fmtNumber(v, Math.abs(v) >= 100 ? 0 : Math.abs(v) >= 1 ? 2 : 4, 0);
    charts.replaceChildren(...[
      h('div', { class: 'chart-box' }, h('h3', {}, t('usage.gpuHoursPer', { bucket: t(`usage.per.${bucket}`) })),
        stackedBars({ id: 'chart-hours', buckets, series: list.map((se) => ({ ...se, values: se.hours })), fmt: fmt2,
          unit: t('usage.gpuHours'), emptyText: t('usage.empty') })),
      charging ? h('div', { class: 'chart-box' }, h('h3', {}, t('usage.pointsPer', { bucket: t(`usage.per.${bucket}`) })),
        stackedBars({ id: 'chart-points', buckets, series: list.map((se) => ({ ...se, values: se.points })), fmt: fmt2,
          unit: t('unit.points'), emptyText: t('usage.empty') })) : null].filter(Boolean));
    charts.dataset.bucket = bucket;
    charts.dataset.group = group;
    charts.dataset.items = String(doc.items.length);
  }

  const reload = () => loadSeries().catch((err) => { if (!(err instanceof DOMException)) charts.replaceChildren(h('p', { class: 'error' }, t('error.load'), ' ', raw(err.message))); });
  bucketSel.addEventListener('change', reload);
  groupSel.addEventListener('change', reload);
  await loadBudgets();
  ctx.poll(async () => { await Promise.all([loadBudgets(), loadSeries(), ledger.reload()]); }, 15000);
}

// --- the ledger of one project ---------------------------------------------------------------------------------

const LEDGER_PAGE = 50;
const LEDGER_KINDS = ['top_up', 'hold', 'release', 'charge', 'refund', 'expiry', 'subsidy'];

/** A job run's ref ("42#1") links to the job; a reservation's ("reservation:3") to the reservations page. */
function refCell(ref) {
  if (!ref) return h('td', { 'data-col': 'ref' }, '—');
  const job = /^(\d+)#/.exec(ref);
  const href = job ? `#/jobs/${job[1]}` : ref.startsWith('reservation:') ? '#/reservations' : null;
  return h('td', { 'data-col': 'ref' }, href ? h('a', { href }, raw(ref)) : raw(ref));
}

/** The card that shows a project's ledger entries, newest first, LEDGER_PAGE a page. */
function ledgerView(ctx) {
  const title = h('h2', {});
  const body = h('div', { id: 'ledger-entries', class: 'table-scroll' });
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
    if (page > last) {  // the ledger got shorter than the page shown (e.g. another project): its last page
      page = last;
      got = await api(`${base}?order=desc&offset=${page * LEDGER_PAGE}&limit=${LEDGER_PAGE}`, { signal: ctx.signal });
    }
    if (mine !== which) return;
    total = got.total;
    const items = got.items;
    const from = page * LEDGER_PAGE + 1, to = page * LEDGER_PAGE + items.length;
    const rows = items.map((e) => h('tr', { 'data-ledger-row': e.id, 'data-kind': e.kind },
      h('td', {}, fmtTime(e.at)),
      h('td', { 'data-col': 'kind' }, LEDGER_KINDS.includes(e.kind) ? t(`ledger.kind.${e.kind}`) : raw(e.kind)),
      pointsCell(e.amount, 'amount'), pointsCell(e.subsidy, 'subsidy'),
      h('td', { 'data-col': 'programme' }, e.programme ? raw(e.programme) : '—'), refCell(e.ref),
      h('td', { 'data-col': 'note' }, e.note ? raw(e.note) : '')));
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

// --- tariffs ---------------------------------------------------------------------------------------------------

const PRICE_MAPS = ['points_per_gpu_hour', 'service_classes', 'priority_classes'];

/** The text of the textarea (JSON, or YAML read by the vendored js-yaml) as the POST /tariffs body. */
async function parseTariffs(text) {
  let data;
  try {
    data = JSON.parse(text);
  } catch {
    const yaml = await import('./vendor/js-yaml.js');
    data = yaml.load(text);
  }
  if (Array.isArray(data)) data = { tariffs: data };
  else if (data && typeof data === 'object' && !('tariffs' in data) && 'name' in data) data = { tariffs: [data] };
  // Prices go as decimal strings: a number's shortest form (0.9375, 0.1) is exactly what was typed.
  if (data && Array.isArray(data.tariffs)) {
    for (const tv of data.tariffs) {
      if (!tv || typeof tv !== 'object') continue;
      for (const key of PRICE_MAPS) {
        const m = tv[key];
        if (m && typeof m === 'object') for (const k of Object.keys(m)) if (typeof m[k] === 'number') m[k] = String(m[k]);
      }
    }
  }
  return data;
}

function exampleTariff(gpuTypes) {
  const d = new Date(Date.now() + 86400000);
  const day = d.toISOString().slice(0, 10);
  return ['tariffs:', `  - name: tariff-${day}`, `    valid_from: ${day}`, '    minimum_seconds: 60',
    '    increment_seconds: 1', '    points_per_gpu_hour:', ...gpuTypes.map((g) => `      ${g}: 2.0`),
    '    service_classes: {standard: 1.0, preemptible: 0.5}', '    priority_classes: {high: 1.5}', ''].join('\n');
}

function multipliers(map, kind) {
  const keys = Object.keys(map || {});
  if (!keys.length) return '—';
  return h('ul', { class: 'plain' }, ...keys.map((k) => h('li', {},
    kind === 'priority' ? (tMaybe(`priority.${k}`) ?? raw(k)) : raw(k), ' ', h('span', { class: 'mult' }, `× ${fmtNumber(Number(map[k]), 4, 0)}`))));
}

export async function tariffsPage(main, ctx) {
  const operator = ctx.me.role === 'operator';
  const list = h('div', { id: 'tariffs', class: 'table-scroll' });
  main.append(h('div', { class: 'page-head' }, h('h1', {}, t('tariffs.title'))),
    h('p', { class: 'muted' }, t(operator ? 'tariffs.help' : 'tariffs.readOnly')));
  const cols = h('div', { class: 'stack' }, list);  // the table is wide: the form goes under it
  main.append(cols);

  if (operator) {
    const text = h('textarea', { id: 'tariff-text', rows: 16, spellcheck: 'false', placeholder: t('tariffs.placeholder') });
    const slot = h('div', { class: 'field', 'data-field': 'tariffs' }, h('label', { for: 'tariff-text' }, t('tariffs.text')), text,
      h('div', { class: 'field-error', 'data-error-for': 'tariffs' }));
    const example = h('button', { type: 'button', class: 'secondary', id: 'tariff-example' }, t('tariffs.example'));
    example.addEventListener('click', async () => {
      const cluster = await api('/cluster', { signal: ctx.signal });
      text.value = exampleTariff(cluster.gpu_types.map((g) => g.name));
    });
    const loadForm = form('tariff-form', 'tariffs.load', [slot], 'tariffs.loadSubmit', async (el) => {
      let body;
      try {
        body = await parseTariffs(text.value);
      } catch (err) {
        el.querySelector('[data-error-for=tariffs]').append(t('tariffs.parseError'), ' ', raw(String(err.message || err)));
        slot.classList.add('invalid');
        return;
      }
      try {
        const res = await api('/tariffs', { method: 'POST', body });
        el.querySelector('.form-result').append(res.added.length
          ? h('span', { class: 'ok', id: 'tariff-loaded' }, t('tariffs.loaded'), ' ', raw(res.added.join(', ')))
          : h('span', { class: 'muted', id: 'tariff-loaded', 'data-nothing-new': '' }, t('tariffs.nothingNew')));
        await refresh();
      } catch (err) {
        if (err instanceof ApiError && err.fields) {
          // The whole document is one field here: each 422 goes under the text with the path it names.
          const out = el.querySelector('[data-error-for=tariffs]');
          for (const fe of err.fields) out.append(h('div', { 'data-error-path': fe.field }, raw(`${fe.field}: ${fe.message}`)));
          slot.classList.add('invalid');
        } else throw err;
      }
    }, h('div', { class: 'form-tools' }, example, h('span', { class: 'muted small' }, t('tariffs.formats'))));
    cols.append(loadForm);
  }

  async function refresh() {
    const { tariffs } = await api('/tariffs', { signal: ctx.signal });
    const inForce = tariffs.filter((tv) => tv.valid_from <= now()).sort((a, b) => b.valid_from - a.valid_from)[0];
    const rows = [...tariffs].sort((a, b) => b.valid_from - a.valid_from).map((tv) => h('tr', { 'data-tariff-row': tv.name },
      h('td', {}, raw(tv.name, 'strong'), tv.description ? h('div', { class: 'muted small' }, raw(tv.description)) : null),
      h('td', {}, fmtTime(tv.valid_from), ' ', tv === inForce ? h('span', { class: 'badge state-running', 'data-in-force': '' }, t('tariffs.inForce'))
        : tv.valid_from > now() ? h('span', { class: 'badge state-pending' }, t('tariffs.future')) : null),
      h('td', { 'data-col': 'prices' }, h('ul', { class: 'plain' }, ...Object.entries(tv.points_per_gpu_hour).map(([g, p]) =>
        h('li', {}, raw(g), ' ', h('strong', { 'data-price': g }, fmtPoints(p)))))),
      h('td', {}, multipliers(tv.service_classes, 'service')),
      h('td', {}, multipliers(tv.priority_classes, 'priority')),
      h('td', {}, tv.minimum_seconds ? fmtDuration(tv.minimum_seconds) : t('tariffs.noMinimum'),
        h('div', { class: 'muted small' }, tv.increment_seconds ? t('tariffs.increment', { time: fmtDuration(tv.increment_seconds) })
          : t('tariffs.exact')))));
    list.replaceChildren(table(['tariffs.name', 'tariffs.validFrom', 'tariffs.prices', 'tariffs.service', 'tariffs.priority',
      'tariffs.minimum'], rows.length ? rows : [emptyRow(6, 'tariffs.empty')]));
  }
  await refresh();
}
