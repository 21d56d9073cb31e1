// Projects: the projects of each org the caller may see (operators: every org), with their budgets' available
// points; operators and the org's admins create one (POST /orgs/{org}/projects).
import { api } from './api.js';
import { h, raw } from './dom.js';
import { fmtTime, pointsDigits, t } from './i18n.js';
import { emptyRow, field, form, table } from './common.js';
import { pointsCell } from './ledger.js';

export async function projectsPage(main, ctx) {
  const { role } = ctx.me;
  const orgs = role === 'operator' ? await api('/orgs', { signal: ctx.signal }) : [{ name: ctx.me.org }];
  const list = h('div', { id: 'projects' });
  const cols = h('div', { class: 'cols' }, list);
  main.append(h('div', { class: 'page-head' }, h('h1', {}, t('projects.title'))),
    h('p', { class: 'muted' }, t(role === 'member' ? 'projects.readOnly' : 'projects.help')), cols);
  if (role !== 'member') {
    const org = h('select', { id: 'project-org' }, ...orgs.map((o) => raw(o.name, 'option', { value: o.name })));
    const name = h('input', { id: 'project-name', autocomplete: 'off' });
    cols.append(form('project-form', 'projects.create', [role === 'operator' ? field('projects.org', 'org', org) : null,
      field('projects.name', 'name', name)], 'projects.createSubmit', async (el) => {
      const p = await api(`/orgs/${encodeURIComponent(org.value)}/projects`, { method: 'POST', body: { name: name.value.trim() } });
      el.querySelector('.form-result').append(h('span', { class: 'ok', id: 'project-done' }, t('projects.created'), ' ',
        raw(`${p.org} / ${p.name}`)));
      name.value = '';
      await refresh();
    }, h('p', { class: 'muted small' }, t('projects.budgetHelp'))));
  }
  async function refresh() {
    const [lists, budgets] = await Promise.all([
      Promise.all(orgs.map((o) => api(`/orgs/${encodeURIComponent(o.name)}/projects`, { signal: ctx.signal }))),
      api('/budgets', { signal: ctx.signal })]);
    const available = new Map(budgets.map((b) => [`${b.org}/${b.project}`, b.available]));
    const projects = lists.flat();
    const digits = pointsDigits([...available.values()]);
    list.replaceChildren(table(['projects.org', 'projects.name', 'budgets.available', 'common.created'],
      projects.length ? projects.map((p) => h('tr', { 'data-project-row': `${p.org}/${p.name}` }, h('td', {}, raw(p.org)),
        h('td', {}, raw(p.name)), pointsCell(available.get(`${p.org}/${p.name}`) ?? null, 'available', digits),
        h('td', {}, fmtTime(p.created_at)))) : [emptyRow(4, 'projects.empty')]));
  }
  await refresh();
}
