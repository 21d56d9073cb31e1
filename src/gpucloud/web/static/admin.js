// Operator pages (org-admins see the parts their role allows): orgs, quotas, users, tokens. Every form shows
// the API's 422 field errors next to its inputs and other refusals below it.
import { api } from './api.js';
import { h, raw } from './dom.js';
import { fmtNumber, fmtTime, t } from './i18n.js';
import { emptyRow, errorLine, field, form, table } from './common.js';

const num = (input) => (input.value.trim() === '' ? null : Number(input.value));
const orgOptions = (orgs, withNone) => [withNone ? h('option', { value: '' }, t('users.noOrg')) : null,
  ...orgs.map((o) => raw(o.name, 'option', { value: o.name }))];

/** A token shown once, with a copy button. */
function tokenBox(created) {
  const code = raw(created.token, 'code', { id: 'new-token' });
  return h('div', { class: 'token-once' },
    h('strong', {}, t('tokens.once', { user: created.user })), h('div', {}, code, ' ',
      h('button', { type: 'button', class: 'secondary', onclick: () => navigator.clipboard?.writeText(created.token) }, t('tokens.copy'))));
}

export async function orgsPage(main, ctx) {
  const list = h('div', { id: 'orgs' });
  const name = h('input', { id: 'org-name' });
  const weight = h('input', { id: 'org-weight', type: 'number', step: 'any', value: '1' });
  const create = form('org-form', 'orgs.create', [field('orgs.name', 'name', name), field('orgs.weight', 'weight', weight)],
    'orgs.createSubmit', async (el) => {
      const org = await api('/orgs', { method: 'POST', body: { name: name.value.trim(), weight: num(weight) } });
      el.querySelector('.form-result').append(h('span', { class: 'ok' }, t('orgs.created'), ' ', raw(org.name)));
      name.value = '';
      await refresh();
    });
  main.append(h('div', { class: 'page-head' }, h('h1', {}, t('orgs.title'))), h('div', { class: 'cols' }, list, create));
  async function refresh() {
    const orgs = await api('/orgs', { signal: ctx.signal });
    list.replaceChildren(table(['orgs.name', 'orgs.weight', 'common.created', ''], orgs.length ? orgs.map((o) => {
      const w = h('input', { type: 'number', step: 'any', value: String(o.weight), class: 'narrow', name: 'weight' });
      const msg = h('span', { class: 'inline-msg' });
      const save = h('button', { type: 'button', class: 'secondary', onclick: async () => {
        msg.replaceChildren();
        try {
          await api(`/orgs/${encodeURIComponent(o.name)}`, { method: 'PATCH', body: { weight: num(w) } });
          msg.append(h('span', { class: 'ok' }, t('common.saved')));
        } catch (err) {
          msg.append(err.fields ? h('span', { class: 'error' }, ...err.fields.map((f) => raw(`${f.field}: ${f.message}`))) : errorLine(err));
        }
      } }, t('common.save'));
      return h('tr', { 'data-org-row': o.name }, h('td', {}, raw(o.name)), h('td', {}, w), h('td', {}, fmtTime(o.created_at)),
        h('td', {}, save, ' ', msg));
    }) : [emptyRow(4, 'orgs.empty')]));
  }
  await refresh();
}

export async function quotasPage(main, ctx) {
  const operator = ctx.me.role === 'operator';
  const orgs = operator ? await api('/orgs', { signal: ctx.signal }) : [{ name: ctx.me.org }];
  const cluster = await api('/cluster', { signal: ctx.signal });
  const orgSel = h('select', { id: 'quota-org' }, ...orgOptions(orgs, false));
  const list = h('div', { id: 'quotas' });
  main.append(h('div', { class: 'page-head' }, h('h1', {}, t('quotas.title'))),
    h('p', { class: 'muted' }, t(operator ? 'quotas.help' : 'quotas.readOnly')),
    h('div', { class: 'filters' }, h('label', {}, t('filter.org'), ' ', orgSel)));
  if (!orgs.length) { main.append(h('p', {}, t('orgs.empty'))); return; }
  const cols = h('div', { class: 'cols' }, list);
  main.append(cols);
  if (operator) {
    const gpuType = h('select', { id: 'quota-gpu-type' }, ...cluster.gpu_types.map((g) => raw(g.name, 'option', { value: g.name })));
    const guaranteed = h('input', { id: 'quota-guaranteed', type: 'number', value: '0' });
    const borrow = h('input', { id: 'quota-borrow', type: 'number', placeholder: t('quotas.unlimited') });
    cols.append(form('quota-form', 'quotas.set', [field('quotas.gpuType', 'gpu_type', gpuType),
      field('quotas.guaranteed', 'guaranteed', guaranteed), field('quotas.borrowLimit', 'borrow_limit', borrow)],
    'quotas.setSubmit', async (el) => {
      await api(`/orgs/${encodeURIComponent(orgSel.value)}/quotas/${encodeURIComponent(gpuType.value)}`,
        { method: 'PUT', body: { guaranteed: num(guaranteed), borrow_limit: num(borrow) } });
      el.querySelector('.form-result').append(h('span', { class: 'ok' }, t('common.saved')));
      await refresh();
    }));
  }
  async function refresh() {
    const org = orgSel.value;
    const quotas = await api(`/orgs/${encodeURIComponent(org)}/quotas`, { signal: ctx.signal });
    list.replaceChildren(table(['quotas.gpuType', 'quotas.guaranteed', 'quotas.borrowLimit', ''], quotas.length ? quotas.map((q) =>
      h('tr', { 'data-quota-row': q.gpu_type }, h('td', {}, raw(q.gpu_type)), h('td', { class: 'num' }, fmtNumber(q.guaranteed)),
        h('td', { class: 'num' }, q.borrow_limit == null ? t('quotas.unlimited') : fmtNumber(q.borrow_limit)),
        h('td', {}, operator ? h('button', { type: 'button', class: 'secondary', onclick: async () => {
          await api(`/orgs/${encodeURIComponent(org)}/quotas/${encodeURIComponent(q.gpu_type)}`, { method: 'DELETE' });
          await refresh();
        } }, t('common.delete')) : null))) : [emptyRow(4, 'quotas.empty')]));
  }
  orgSel.addEventListener('change', refresh);
  await refresh();
}

export async function usersPage(main, ctx) {
  const operator = ctx.me.role === 'operator';
  const orgs = operator ? await api('/orgs', { signal: ctx.signal }) : [{ name: ctx.me.org }];
  const list = h('div', { id: 'users' });
  const name = h('input', { id: 'user-name' });
  const roles = operator ? ['member', 'org-admin', 'operator'] : ['member', 'org-admin'];
  const role = h('select', { id: 'user-role' }, ...roles.map((r) => h('option', { value: r }, t(`role.${r}`))));
  const org = h('select', { id: 'user-org' }, ...orgOptions(orgs, operator));
  if (operator && orgs.length) org.value = orgs[0].name;
  const create = form('user-form', 'users.create', [field('users.name', 'name', name), field('users.role', 'role', role),
    field('users.org', 'org', org)], 'users.createSubmit', async (el) => {
    const user = await api('/users', { method: 'POST', body: { name: name.value.trim(), role: role.value, org: org.value || null } });
    const created = await api('/tokens', { method: 'POST', body: { user: user.name, description: 'dashboard' } });
    el.querySelector('.form-result').append(tokenBox(created));
    name.value = '';
    await refresh();
  });
  main.append(h('div', { class: 'page-head' }, h('h1', {}, t('users.title'))), h('div', { class: 'cols' }, list, create));
  async function refresh() {
    const users = await api('/users', { signal: ctx.signal });
    list.replaceChildren(table(['users.name', 'users.role', 'users.org', 'common.created'], users.map((u) =>
      h('tr', { 'data-user-row': u.name }, h('td', {}, raw(u.name)), h('td', {}, t(`role.${u.role}`)),
        h('td', {}, u.org ? raw(u.org) : '—'), h('td', {}, fmtTime(u.created_at))))));
  }
  await refresh();
}

export async function tokensPage(main, ctx) {
  const manager = ctx.me.role !== 'member';
  const list = h('div', { id: 'tokens' });
  const user = h('input', { id: 'token-user', placeholder: ctx.me.name, 'data-raw': '' });  // placeholder: a name
  const description = h('input', { id: 'token-description' });
  const create = form('token-form', 'tokens.create', [manager ? field('tokens.user', 'user', user) : null,
    field('tokens.description', 'description', description)], 'tokens.createSubmit', async (el) => {
    const created = await api('/tokens', { method: 'POST', body: { user: user.value.trim() || null, description: description.value } });
    el.querySelector('.form-result').append(tokenBox(created));
    description.value = '';
    await refresh();
  });
  main.append(h('div', { class: 'page-head' }, h('h1', {}, t('tokens.title'))), h('p', { class: 'muted' }, t('tokens.help')),
    h('div', { class: 'cols' }, list, create));
  async function refresh() {
    const tokens = await api('/tokens', { signal: ctx.signal });
    list.replaceChildren(table(['tokens.id', 'tokens.user', 'tokens.prefix', 'tokens.description', 'common.created',
      'tokens.status', ''], tokens.length ? tokens.map((tk) => {
      const msg = h('span', { class: 'inline-msg' });
      return h('tr', { 'data-token-row': tk.id }, h('td', { class: 'num' }, String(tk.id)), h('td', {}, raw(tk.user)),
        h('td', {}, raw(`${tk.prefix}…`, 'code')), h('td', {}, raw(tk.description)), h('td', {}, fmtTime(tk.created_at)),
        h('td', {}, tk.revoked_at ? h('span', { class: 'badge state-cancelled' }, t('tokens.revokedAt', { time: fmtTime(tk.revoked_at) }))
          : h('span', { class: 'badge state-running' }, t('tokens.active'))),
        h('td', {}, tk.revoked_at ? null : h('button', { type: 'button', class: 'secondary', 'data-revoke': tk.id, onclick: async () => {
          try { await api(`/tokens/${tk.id}/revoke`, { method: 'POST' }); await refresh(); } catch (err) { msg.replaceChildren(errorLine(err)); }
        } }, t('tokens.revoke')), msg));
    }) : [emptyRow(7, 'tokens.empty')]));
  }
  await refresh();
}
