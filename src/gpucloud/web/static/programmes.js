// Subsidy programmes: each one's share, total, what it has paid and holds and has left, its cap per org, who is
// eligible (orgs by name or by kind) and its window; what it committed to each org the caller may see. Operators
// create one (POST /programmes; the server's 422 next to the field it names).
import { api } from './api.js';
import { h, raw } from './dom.js';
import { fmtPoints, fmtTime, pointsDigits, t } from './i18n.js';
import { emptyRow, field, form, table } from './common.js';
import { pointsCell } from './ledger.js';
import { localToIso } from './time.js';

const list = (items) => (items.length ? raw(items.join(', ')) : '—');

export async function programmesPage(main, ctx) {
  const operator = ctx.me.role === 'operator';
  const box = h('div', { id: 'programmes' });
  main.append(h('div', { class: 'page-head' }, h('h1', {}, t('programmes.title'))),
    h('p', { class: 'muted' }, t('programmes.help')), box);
  if (operator) {
    const el = {
      name: h('input', { id: 'prog-name', autocomplete: 'off' }), share: h('input', { id: 'prog-share', placeholder: '1/2' }),
      total: h('input', { id: 'prog-total', inputmode: 'decimal' }), org_cap: h('input', { id: 'prog-cap', inputmode: 'decimal', placeholder: t('programmes.noCap') }),
      orgs: h('input', { id: 'prog-orgs', placeholder: t('programmes.listHint'), 'data-raw': '' }),
      org_kinds: h('input', { id: 'prog-kinds', placeholder: 'university, institute', 'data-raw': '' }),
      valid_from: h('input', { id: 'prog-from', type: 'date' }), valid_until: h('input', { id: 'prog-until', type: 'date' }),
    };
    const words = (input) => input.value.split(',').map((s) => s.trim()).filter(Boolean);
    const when = (input) => (input.value ? new Date(localToIso(input.value)).getTime() / 1000 : null);
    main.append(h('div', { class: 'stack' }, form('programme-form', 'programmes.create', [
      field('programmes.name', 'name', el.name), field('programmes.share', 'share', el.share, t('programmes.shareHelp')),
      field('programmes.total', 'total', el.total), field('programmes.orgCap', 'org_cap', el.org_cap),
      field('programmes.orgs', 'orgs', el.orgs), field('programmes.kinds', 'org_kinds', el.org_kinds),
      field('programmes.from', 'valid_from', el.valid_from), field('programmes.until', 'valid_until', el.valid_until)],
    'programmes.createSubmit', async (f) => {
      const body = { name: el.name.value.trim(), share: el.share.value.trim(), total: el.total.value.trim(),
        orgs: words(el.orgs), org_kinds: words(el.org_kinds), valid_from: when(el.valid_from), valid_until: when(el.valid_until) };
      if (el.org_cap.value.trim()) body.org_cap = el.org_cap.value.trim();
      const p = await api('/programmes', { method: 'POST', body });
      f.querySelector('.form-result').append(h('span', { class: 'ok' }, t('programmes.created'), ' ', raw(p.name)));
      await refresh();
    })));
  }

  async function refresh() {
    const rows = await api('/programmes', { signal: ctx.signal });
    const digits = pointsDigits(rows.flatMap((p) => [p.total, p.paid, p.held, p.remaining, p.org_cap]));
    box.replaceChildren(table(['programmes.name', 'programmes.share', 'programmes.total', 'programmes.paid', 'programmes.held',
      'programmes.remaining', 'programmes.orgCap', 'programmes.eligible', 'programmes.window', 'programmes.committed'],
    rows.length ? rows.map((p) => h('tr', { 'data-programme-row': p.name },
      h('td', {}, raw(p.name, 'strong')), h('td', { 'data-col': 'share' }, raw(p.share)), pointsCell(p.total, 'total', digits),
      pointsCell(p.paid, 'paid', digits), pointsCell(p.held, 'held', digits), pointsCell(p.remaining, 'remaining', digits),
      p.org_cap == null ? h('td', { 'data-col': 'org_cap' }, t('programmes.noCap')) : pointsCell(p.org_cap, 'org_cap', digits),
      h('td', { class: 'wrap' }, p.orgs.length ? [t('programmes.byName'), ' ', list(p.orgs)] : null,
        p.orgs.length && p.org_kinds.length ? h('br') : null, p.org_kinds.length ? [t('programmes.byKind'), ' ', list(p.org_kinds)] : null,
        !p.orgs.length && !p.org_kinds.length ? '—' : null),
      h('td', {}, p.valid_from == null && p.valid_until == null ? t('programmes.always')
        : t('map.window', { start: fmtTime(p.valid_from), end: fmtTime(p.valid_until) })),
      h('td', { class: 'wrap' }, Object.keys(p.org_committed).length ? h('ul', { class: 'plain' }, ...Object.entries(p.org_committed)
        .map(([org, v]) => h('li', { 'data-org': org }, raw(org), ' ', fmtPoints(v, digits)))) : '—')))
      : [emptyRow(10, 'programmes.empty')], { id: 'programmes-table' }));
  }
  await refresh();
}
