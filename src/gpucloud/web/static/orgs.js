// Orgs (operators): each org's kind (university, institute, company, ...: subsidy programmes may be open to a kind)
// and fair-share weight, changed in place; create an org (it gets a project "default").
import { api } from './api.js';
import { h, raw } from './dom.js';
import { fmtTime, t } from './i18n.js';
import { emptyRow, errorLine, field, form, table } from './common.js';

export const KINDS = ['', 'university', 'institute', 'company', 'government'];
const num = (input) => (input.value.trim() === '' ? null : Number(input.value));

export function kindSelect(value, attrs = {}) {
  const sel = h('select', attrs, ...KINDS.map((k) => h('option', { value: k }, k ? t(`kind.${k}`) : t('kind.none'))));
  if (value && !KINDS.includes(value)) sel.append(raw(value, 'option', { value }));
  sel.value = value || '';
  return sel;
}

export async function orgsPage(main, ctx) {
  const list = h('div', { id: 'orgs' });
  const name = h('input', { id: 'org-name', autocomplete: 'off' });
  const weight = h('input', { id: 'org-weight', type: 'number', step: 'any', value: '1' });
  const kind = kindSelect('', { id: 'org-kind' });
  const create = form('org-form', 'orgs.create', [field('orgs.name', 'name', name), field('orgs.kind', 'kind', kind),
    field('orgs.weight', 'weight', weight)], 'orgs.createSubmit', async (el) => {
    const org = await api('/orgs', { method: 'POST', body: { name: name.value.trim(), weight: num(weight), kind: kind.value } });
    el.querySelector('.form-result').append(h('span', { class: 'ok' }, t('orgs.created'), ' ', raw(org.name)));
    name.value = '';
    await refresh();
  });
  main.append(h('div', { class: 'page-head' }, h('h1', {}, t('orgs.title'))), h('div', { class: 'cols' }, list, create));
  async function refresh() {
    const orgs = await api('/orgs', { signal: ctx.signal });
    list.replaceChildren(table(['orgs.name', 'orgs.kind', 'orgs.weight', 'common.created', ''], orgs.length ? orgs.map((o) => {
      const w = h('input', { type: 'number', step: 'any', value: String(o.weight), class: 'narrow', name: 'weight', 'aria-label': t('orgs.weight') });
      const k = kindSelect(o.kind, { name: 'kind', 'aria-label': t('orgs.kind') });
      const msg = h('span', { class: 'inline-msg' });
      const save = h('button', { type: 'button', class: 'secondary', onclick: async () => {
        msg.replaceChildren();
        try {
          await api(`/orgs/${encodeURIComponent(o.name)}`, { method: 'PATCH', body: { weight: num(w), kind: k.value } });
          msg.append(h('span', { class: 'ok' }, t('common.saved')));
        } catch (err) {
          msg.append(err.fields ? h('span', { class: 'error' }, ...err.fields.map((f) => raw(`${f.field}: ${f.message}`))) : errorLine(err));
        }
      } }, t('common.save'));
      return h('tr', { 'data-org-row': o.name, 'data-kind': o.kind }, h('td', {}, raw(o.name)), h('td', {}, k), h('td', {}, w),
        h('td', {}, fmtTime(o.created_at)), h('td', {}, save, ' ', msg));
    }) : [emptyRow(5, 'orgs.empty')]));
  }
  await refresh();
}
