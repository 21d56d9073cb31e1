// Tokens: list (prefix, never the secret), create (shown once), revoke after a confirmation. Everyone manages their
// own; org-admins their org's users'; operators everyone's.
import { api } from './api.js';
import { h, raw } from './dom.js';
import { fmtTime, t, tParts } from './i18n.js';
import { confirmButton, copyButton, emptyRow, field, form, table } from './common.js';

/** A token shown once, with a copy button. */
export function tokenBox(created) {
  return h('div', { class: 'token-once' },
    h('strong', {}, t('tokens.once', { user: created.user })),
    h('div', {}, raw(created.token, 'code', { id: 'new-token' }), ' ', copyButton(() => created.token)));
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
      'tokens.status', ''], tokens.length ? tokens.map((tk) => h('tr', { 'data-token-row': tk.id },
      h('td', { class: 'num' }, String(tk.id)), h('td', {}, raw(tk.user)),
      h('td', {}, raw(`${tk.prefix}…`, 'code')), h('td', { class: 'wrap' }, raw(tk.description)), h('td', {}, fmtTime(tk.created_at)),
      h('td', {}, tk.revoked_at ? h('span', { class: 'badge state-cancelled' }, t('tokens.revokedAt', { time: fmtTime(tk.revoked_at) }))
        : h('span', { class: 'badge state-running' }, t('tokens.active'))),
      h('td', { class: 'actions-cell' }, tk.revoked_at ? null : confirmButton({
        label: t('tokens.revoke'), question: tParts('tokens.revokeConfirm', { prefix: raw(`${tk.prefix}…`, 'code') }), yes: t('tokens.revokeYes'),
        attrs: { 'data-revoke': tk.id, 'data-action': 'revoke' },
        action: async () => { await api(`/tokens/${tk.id}/revoke`, { method: 'POST' }); await refresh(); } }))))
      : [emptyRow(7, 'tokens.empty')]));
  }
  await refresh();
}
