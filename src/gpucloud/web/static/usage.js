// Usage and budgets: each project's budget in points (balance, held, available, spent, cap, expiry), its burn rate
// (points charged per day over the last 7 days) and the days its available points last at that rate, with a
// warning for those that run out within a week; the ledger of a project; GPU-hours and points per day or month
// (GET /usage/series) as bar charts, orgs in their map colours; top-ups for operators.
import { api } from './api.js';
import { loadOrgIds, ORG_PALETTE, orgColour } from './colours.js';
import { h, raw } from './dom.js';
import { fmtNumber, fmtPoints, fmtTime, getLang, pointsDigits, t } from './i18n.js';
import { stackedBars } from './chart.js';
import { emptyRow, field, form, table } from './common.js';
import { ledgerView, pointsCell } from './ledger.js';

const now = () => Date.now() / 1000;
const BURN_DAYS = 7;
/** A project whose available points last fewer days than this at its burn rate is low. */
export const LOW_DAYS = 7;

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

/** Points charged per day over the last BURN_DAYS UTC days (today included), per "org/project". */
async function burnRates(signal) {
  const from = new Date(Date.now() - (BURN_DAYS - 1) * 86400000).toISOString().slice(0, 10);
  const doc = await api(`/usage/series?bucket=day&from=${from}`, { signal });
  const out = new Map();
  for (const it of doc.items) {
    const key = `${it.org}/${it.project}`;
    out.set(key, (out.get(key) || 0) + Number(it.points) / BURN_DAYS);
  }
  return out;
}

export async function usagePage(main, ctx) {
  const operator = ctx.me.role === 'operator';
  const budgetsBox = h('div', { id: 'usage' });
  const warning = h('div', { id: 'budget-warning', class: 'banner warn', role: 'alert', hidden: true });
  const bucketSel = h('select', { id: 'usage-bucket' }, h('option', { value: 'day' }, t('usage.byDay')),
    h('option', { value: 'month' }, t('usage.byMonth')));
  const groupSel = h('select', { id: 'usage-group' }, h('option', { value: 'org' }, t('usage.groupOrg')),
    h('option', { value: 'project' }, t('usage.groupProject')));
  const chargingNote = h('p', { class: 'muted', id: 'usage-charging' });
  const charts = h('div', { class: 'charts', id: 'usage-charts' });
  const ledger = ledgerView(ctx);
  main.append(h('div', { class: 'page-head' }, h('h1', {}, t('usage.title'))), warning,
    h('section', { class: 'card', id: 'budgets-card' }, h('h2', {}, t('budgets.title')),
      h('p', { class: 'muted' }, t(operator ? 'budgets.scope.operator' : 'budgets.scope.org'), ' ', t('budgets.burnHelp', { days: BURN_DAYS })),
      budgetsBox),
    ledger.card);
  const projectSel = h('select', { id: 'topup-project' });
  if (operator) {
    const amount = h('input', { id: 'topup-amount', inputmode: 'decimal' });
    const cap = h('input', { id: 'topup-cap', inputmode: 'decimal', placeholder: t('budgets.noCap') });
    const expires = h('input', { id: 'topup-expires', type: 'date' });
    const note = h('input', { id: 'topup-note' });
    main.append(h('div', { class: 'stack' }, form('topup-form', 'topup.title', [field('topup.project', 'project', projectSel),
      field('topup.amount', 'amount', amount), field('topup.cap', 'cap', cap),
      field('topup.expires', 'expires_at', expires), field('topup.note', 'note', note)], 'topup.submit', async (el) => {
      const [org, project] = JSON.parse(projectSel.value || '[]');
      if (!org) return;
      const body = { amount: amount.value.trim(), note: note.value };
      if (cap.value.trim()) body.cap = cap.value.trim();
      if (expires.value) body.expires_at = expires.value;  // a date: midnight UTC
      const b = await api(`/budgets/${encodeURIComponent(org)}/${encodeURIComponent(project)}/topup`, { method: 'POST', body });
      el.querySelector('.form-result').append(h('span', { class: 'ok', id: 'topup-done' },
        t('topup.done', { amount: fmtPoints(body.amount), balance: fmtPoints(b.balance) }), ' ', raw(`${org} / ${project}`)));
      amount.value = '';
      await loadBudgets();
    }, h('p', { class: 'muted small' }, t('topup.help')))));
  }
  main.append(h('section', { class: 'card' },
    h('div', { class: 'page-head' }, h('h2', {}, t('usage.overTime')),
      h('label', {}, t('usage.bucket'), ' ', bucketSel), h('label', {}, t('usage.group'), ' ', groupSel)),
    chargingNote, charts));

  async function loadBudgets() {
    const [rows, burn] = await Promise.all([api('/budgets', { signal: ctx.signal }), burnRates(ctx.signal)]);
    const cols = ['balance', 'held', 'available', 'spent', 'cap'];
    const digits = Object.fromEntries(cols.map((c) => [c, pointsDigits(rows.map((b) => b[c]))]));
    const burnDigits = pointsDigits(rows.map((b) => (burn.get(`${b.org}/${b.project}`) || 0).toFixed(4)));
    let low = 0;
    const trs = rows.map((b) => {
      const key = `${b.org}/${b.project}`;
      const rate = burn.get(key) || 0;
      const days = rate > 0 ? Math.max(0, Number(b.available)) / rate : null;
      const isLow = days !== null && days < LOW_DAYS;
      if (isLow) low++;
      return h('tr', { 'data-budget-row': key, class: isLow ? 'low' : '' },
        h('td', {}, raw(b.org)), h('td', {}, raw(b.project)), pointsCell(b.balance, 'balance', digits.balance),
        pointsCell(b.held, 'held', digits.held), pointsCell(b.available, 'available', digits.available),
        pointsCell(b.spent, 'spent', digits.spent),
        b.cap == null ? h('td', { 'data-col': 'cap', 'data-value': '' }, t('budgets.noCap')) : pointsCell(b.cap, 'cap', digits.cap),
        expiryCell(b.expires_at),
        h('td', { class: 'num', 'data-col': 'burn', 'data-value': rate.toFixed(4) }, rate > 0 ? fmtNumber(rate, burnDigits, burnDigits) : '—'),
        h('td', { class: 'num', 'data-col': 'days', 'data-value': days === null ? '' : days.toFixed(2) },
          days === null ? '—' : fmtNumber(days, 1, 1), isLow ? [' ', h('span', { class: 'badge state-failed', 'data-low': '' }, t('budgets.low'))] : null),
        h('td', {}, h('button', { type: 'button', class: 'link', 'data-ledger': key,
          onclick: () => ledger.open(b.org, b.project) }, t('ledger.open'))));
    });
    budgetsBox.replaceChildren(table(['job.org', 'job.project', 'budgets.balance', 'budgets.held', 'budgets.available',
      'budgets.spent', 'budgets.cap', 'budgets.expires', 'budgets.burn', 'budgets.daysLeft', ''],
    trs.length ? trs : [emptyRow(11, 'budgets.empty')], { id: 'budgets' }));
    warning.hidden = low === 0;
    warning.textContent = low ? t('budgets.lowWarning', { n: fmtNumber(low), days: LOW_DAYS }) : '';
    if (operator) {
      const keep = projectSel.value;
      projectSel.replaceChildren(...rows.map((b) => raw(`${b.org} / ${b.project}`, 'option', { value: JSON.stringify([b.org, b.project]) })));
      if (keep && [...projectSel.options].some((o) => o.value === keep)) projectSel.value = keep;
    }
  }

  async function loadSeries() {
    const bucket = bucketSel.value, group = groupSel.value;
    const [doc, tariffs] = await Promise.all([api(`/usage/series?bucket=${bucket}`, { signal: ctx.signal }),
      api('/tariffs', { signal: ctx.signal }), loadOrgIds({ signal: ctx.signal })]);
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
    list.forEach((se, i) => { se.colour = group === 'org' ? orgColour(se.key) : ORG_PALETTE[i % ORG_PALETTE.length]; });
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
