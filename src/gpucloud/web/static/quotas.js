// Quotas and fair share (operators: every org; org-admins: their org, read only): at a glance, per org and GPU
// type, the GPUs held now against the guarantee and the borrowing limit; each org's fair-share standing; who
// borrows from whom (operators); and the quotas themselves, set and deleted (after a confirmation) by operators.
import { api } from './api.js';
import { h, raw } from './dom.js';
import { fmtNumber, t, tParts } from './i18n.js';
import { confirmButton, emptyRow, field, form, table } from './common.js';
import { gpuTypes } from './gputypes.js';

const num = (input) => (input.value.trim() === '' ? null : Number(input.value));
const pct = (x) => `${fmtNumber(x * 100, 1, 1)}%`;

/** Used against guaranteed (and the ceiling): the part within the guarantee and the part borrowed. */
function usageMeter(ts) {
  const ceiling = ts.borrow_limit == null ? null : ts.guaranteed + ts.borrow_limit;
  const scale = Math.max(1, ts.used, ts.guaranteed, ceiling ?? 0);
  const within = Math.min(ts.used, ts.guaranteed);
  return h('div', { class: 'meter quota-meter', role: 'img', 'aria-label': t('fair.meterLabel', { used: ts.used, guaranteed: ts.guaranteed }) },
    h('div', { class: 'meter-fill', style: `width:${(100 * within / scale).toFixed(1)}%` }),
    h('div', { class: 'meter-fill borrowed', style: `width:${(100 * (ts.used - within) / scale).toFixed(1)}%` }),
    ts.guaranteed ? h('div', { class: 'meter-mark', style: `left:${(100 * ts.guaranteed / scale).toFixed(1)}%` }) : null);
}

function standingBadge(s) {
  const kind = s < 0.9 ? 'owed' : s > 1.1 ? 'over' : 'fair';
  return h('span', { class: `badge standing-${kind}`, 'data-standing': kind }, t(`fair.${kind}`), ' ', `×${fmtNumber(s, 2, 2)}`);
}

export async function quotasPage(main, ctx) {
  const operator = ctx.me.role === 'operator';
  const glance = h('div', { id: 'fair-glance' });
  const standing = h('div', { id: 'fair-standing' });
  const loans = h('div', { id: 'fair-loans' });
  main.append(h('div', { class: 'page-head' }, h('h1', {}, t('quotas.title'))),
    h('p', { class: 'muted' }, t(operator ? 'quotas.help' : 'quotas.readOnly')),
    h('section', { class: 'card' }, h('h2', {}, t('fair.glance')), glance),
    h('section', { class: 'card' }, h('h2', {}, t('fair.standingTitle')), h('p', { class: 'muted small' }, t('fair.standingHelp')), standing));
  if (operator) main.append(h('section', { class: 'card' }, h('h2', {}, t('fair.loans')), h('p', { class: 'muted small' }, t('fair.loansHelp')), loans));

  async function loadStanding() {
    const doc = await api('/fairshare', { signal: ctx.signal });
    const rows = doc.orgs.flatMap((o) => o.types.filter((ts) => ts.guaranteed || ts.used || ts.borrow_limit != null).map((ts) =>
      h('tr', { 'data-glance-row': `${o.org}/${ts.gpu_type}`, 'data-used': ts.used, 'data-borrowed': ts.borrowed },
        h('td', {}, raw(o.org)), h('td', {}, raw(ts.gpu_type)),
        h('td', { class: 'num' }, fmtNumber(ts.used)), h('td', { class: 'num' }, fmtNumber(ts.guaranteed)),
        h('td', { class: 'num' }, ts.borrow_limit == null ? t('quotas.unlimited') : fmtNumber(ts.borrow_limit)),
        h('td', { class: 'num' }, fmtNumber(ts.borrowed)), h('td', { class: 'num' }, fmtNumber(ts.idle_guaranteed)),
        h('td', { class: 'barcell' }, usageMeter(ts)))));
    glance.replaceChildren(table(['job.org', 'quotas.gpuType', 'fair.used', 'quotas.guaranteed', 'quotas.borrowLimit', 'fair.borrowed',
      'fair.idle', ''], rows.length ? rows : [emptyRow(8, 'fair.nothing')], { id: 'glance-table' }));
    standing.replaceChildren(table(['job.org', 'orgs.weight', 'fair.recent', 'fair.usageShare', 'fair.entitled', 'fair.standing', 'fair.rank'],
      doc.orgs.map((o) => h('tr', { 'data-standing-row': o.org },
        h('td', {}, raw(o.org)), h('td', { class: 'num' }, fmtNumber(o.weight, 2)), h('td', { class: 'num' }, fmtNumber(o.recent_gpus, 1, 1)),
        h('td', { class: 'num' }, pct(o.usage_share)), h('td', { class: 'num' }, pct(o.entitled_share)), h('td', {}, standingBadge(o.standing)),
        h('td', { class: 'num' }, fmtNumber(o.rank)))), { id: 'standing-table' }));
    loans.replaceChildren(doc.loans.length ? h('ul', { class: 'plain loans' }, ...doc.loans.map((l) => h('li', {
      'data-loan': `${l.borrower}<${l.lender ?? ''}`, 'data-gpus': l.gpus },
    ...tParts(l.lender ? 'fair.loanFrom' : 'fair.loanPool', { borrower: raw(l.borrower, 'strong'), lender: raw(l.lender ?? ''),
      n: fmtNumber(l.gpus), type: raw(l.gpu_type) })))) : h('p', { class: 'muted', id: 'no-loans' }, t('fair.noLoans')));
  }

  const orgs = operator ? await api('/orgs', { signal: ctx.signal }) : [{ name: ctx.me.org }];
  const orgSel = h('select', { id: 'quota-org' }, ...orgs.map((o) => raw(o.name, 'option', { value: o.name })));
  const list = h('div', { id: 'quotas' });
  const cols = h('div', { class: 'cols' }, list);
  main.append(h('section', { class: 'card' }, h('h2', {}, t('quotas.list')),
    h('div', { class: 'filters' }, h('label', { class: 'filter' }, h('span', {}, t('filter.org')), orgSel)), cols));
  if (operator) {
    const gpuType = h('select', { id: 'quota-gpu-type' }, ...(await gpuTypes(ctx.signal)).map((g) => raw(g.name, 'option', { value: g.name })));
    const guaranteed = h('input', { id: 'quota-guaranteed', type: 'number', value: '0' });
    const borrow = h('input', { id: 'quota-borrow', type: 'number', placeholder: t('quotas.unlimited') });
    cols.append(form('quota-form', 'quotas.set', [field('quotas.gpuType', 'gpu_type', gpuType),
      field('quotas.guaranteed', 'guaranteed', guaranteed), field('quotas.borrowLimit', 'borrow_limit', borrow)],
    'quotas.setSubmit', async (el) => {
      await api(`/orgs/${encodeURIComponent(orgSel.value)}/quotas/${encodeURIComponent(gpuType.value)}`,
        { method: 'PUT', body: { guaranteed: num(guaranteed), borrow_limit: num(borrow) } });
      el.querySelector('.form-result').append(h('span', { class: 'ok' }, t('common.saved')));
      await Promise.all([refresh(), loadStanding()]);
    }));
  }
  async function refresh() {
    const org = orgSel.value;
    if (!org) { list.replaceChildren(h('p', {}, t('orgs.empty'))); return; }
    const quotas = await api(`/orgs/${encodeURIComponent(org)}/quotas`, { signal: ctx.signal });
    if (org !== orgSel.value) return;  // another org was chosen meanwhile: its own refresh draws the list
    list.dataset.org = org;
    list.replaceChildren(table(['quotas.gpuType', 'quotas.guaranteed', 'quotas.borrowLimit', ''], quotas.length ? quotas.map((q) =>
      h('tr', { 'data-quota-row': q.gpu_type }, h('td', {}, raw(q.gpu_type)), h('td', { class: 'num' }, fmtNumber(q.guaranteed)),
        h('td', { class: 'num' }, q.borrow_limit == null ? t('quotas.unlimited') : fmtNumber(q.borrow_limit)),
        h('td', { class: 'actions-cell' }, operator ? confirmButton({ label: t('common.delete'), attrs: { 'data-action': 'delete' },
          question: tParts('quotas.deleteConfirm', { org: raw(org), type: raw(q.gpu_type) }), yes: t('quotas.deleteYes'),
          action: async () => {
            await api(`/orgs/${encodeURIComponent(org)}/quotas/${encodeURIComponent(q.gpu_type)}`, { method: 'DELETE' });
            await Promise.all([refresh(), loadStanding()]);
          } }) : null))) : [emptyRow(4, 'quotas.empty')], { id: 'quotas-table' }));
  }
  orgSel.addEventListener('change', refresh);
  await Promise.all([refresh(), loadStanding()]);
  ctx.poll(loadStanding, 10000);
}
