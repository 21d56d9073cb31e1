// Users (operators: everyone; org-admins: their org): create one (with a token shown once), change a role between
// member and org-admin, deactivate (their tokens are refused) or reactivate, each change after a confirmation.
import { api } from './api.js';
import { h, raw } from './dom.js';
import { fmtTime, t, tParts } from './i18n.js';
import { confirmButton, errorLine, field, form, table } from './common.js';
import { tokenBox } from './tokens.js';

const CHANGEABLE = ['member', 'org-admin'];

export async function usersPage(main, ctx) {
  const operator = ctx.me.role === 'operator';
  const orgs = operator ? await api('/orgs', { signal: ctx.signal }) : [{ name: ctx.me.org }];
  const list = h('div', { id: 'users' });
  const name = h('input', { id: 'user-name', autocomplete: 'off' });
  const roles = operator ? ['member', 'org-admin', 'operator'] : CHANGEABLE;
  const role = h('select', { id: 'user-role' }, ...roles.map((r) => h('option', { value: r }, t(`role.${r}`))));
  const org = h('select', { id: 'user-org' }, operator ? h('option', { value: '' }, t('users.noOrg')) : null,
    ...orgs.map((o) => raw(o.name, 'option', { value: o.name })));
  if (operator && orgs.length) org.value = orgs[0].name;
  const create = form('user-form', 'users.create', [field('users.name', 'name', name), field('users.role', 'role', role),
    field('users.org', 'org', org)], 'users.createSubmit', async (el) => {
    const user = await api('/users', { method: 'POST', body: { name: name.value.trim(), role: role.value, org: org.value || null } });
    const created = await api('/tokens', { method: 'POST', body: { user: user.name, description: 'dashboard' } });
    el.querySelector('.form-result').append(tokenBox(created));
    name.value = '';
    await refresh();
  });
  main.append(h('div', { class: 'page-head' }, h('h1', {}, t('users.title'))), h('p', { class: 'muted' }, t('users.help')),
    h('div', { class: 'cols' }, list, create));

  const patch = async (u, body) => { await api(`/users/${encodeURIComponent(u.name)}`, { method: 'PATCH', body }); await refresh(); };

  function roleCell(u) {
    if (u.name === ctx.me.name || !CHANGEABLE.includes(u.role)) return h('td', { 'data-col': 'role' }, t(`role.${u.role}`));
    const sel = h('select', { 'data-role-for': u.name, 'aria-label': t('users.role') },
      ...CHANGEABLE.map((r) => h('option', { value: r }, t(`role.${r}`))));
    sel.value = u.role;
    const cell = h('td', { 'data-col': 'role' }, sel);
    sel.addEventListener('change', () => {
      const wanted = sel.value;
      sel.value = u.role;  // until confirmed
      cell.replaceChildren(sel, ' ', confirmButton({ label: t('users.changeRole'), danger: false, attrs: { 'data-action': 'role' },
        question: tParts('users.roleConfirm', { user: raw(u.name), role: t(`role.${wanted}`) }), yes: t('users.roleYes'),
        action: () => patch(u, { role: wanted }) }));
      cell.querySelector('[data-action=role]').click();
    });
    return cell;
  }

  async function refresh() {
    const users = await api('/users', { signal: ctx.signal });
    list.replaceChildren(table(['users.name', 'users.role', 'users.org', 'users.status', 'common.created', ''], users.map((u) =>
      h('tr', { 'data-user-row': u.name, 'data-active': String(u.active !== false) }, h('td', {}, raw(u.name)), roleCell(u),
        h('td', {}, u.org ? raw(u.org) : '—'),
        h('td', {}, u.active === false ? h('span', { class: 'badge state-cancelled' }, t('users.deactivatedAt', { time: fmtTime(u.deactivated_at) }))
          : h('span', { class: 'badge state-running' }, t('users.active'))),
        h('td', {}, fmtTime(u.created_at)),
        h('td', { class: 'actions-cell' }, u.name === ctx.me.name ? null : u.active === false
          ? confirmButton({ label: t('users.reactivate'), danger: false, question: tParts('users.reactivateConfirm', { user: raw(u.name) }),
            yes: t('users.reactivateYes'), attrs: { 'data-action': 'reactivate' }, action: () => patch(u, { active: true }) })
          : confirmButton({ label: t('users.deactivate'), question: tParts('users.deactivateConfirm', { user: raw(u.name) }),
            yes: t('users.deactivateYes'), attrs: { 'data-action': 'deactivate' }, action: () => patch(u, { active: false }) }))))));
  }
  try { await refresh(); } catch (err) { list.replaceChildren(errorLine(err)); }
}
