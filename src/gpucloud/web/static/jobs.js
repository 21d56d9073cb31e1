// Jobs: everything the caller may see (operators: all; org-admins: their org's; members: their own), a page at a
// time from GET /jobs, with filters (state, org, user, project, GPU type, reason, submission dates), a search by
// name or id, sortable columns and the cost of each job, all kept in the address.
import { h, raw } from './dom.js';
import { fmtDuration, fmtPoints, fmtTime, pointsDigits, t } from './i18n.js';
import { ACTIVE, STATES, jobLink, shapeText, stateBadge } from './common.js';
import { fillTypes } from './gputypes.js';
import { filterQuery, serverList } from './listview.js';
import { orgOptions } from './queue.js';
import { localToIso } from './time.js';

/** The job's cost cell: charged points when its runs ended, else what is held now, else nothing. */
function costCell(job, digits) {
  if (job.final_cost != null) return h('td', { class: 'num', 'data-col': 'cost', 'data-value': job.final_cost }, fmtPoints(job.final_cost, digits));
  if (job.estimated_cost != null && ACTIVE.has(job.state)) {
    return h('td', { class: 'num', 'data-col': 'cost', 'data-value': job.estimated_cost, title: t('jobs.costHeld') },
      fmtPoints(job.estimated_cost, digits), h('span', { class: 'muted small' }, ` ${t('jobs.held')}`));
  }
  return h('td', { class: 'num', 'data-col': 'cost', 'data-value': '' }, '—');
}

/** The API's query for the page's filters: `state=active` is every state a job holds or waits in, and the "to"
 * date includes its whole day. */
export function jobsQuery(p) {
  const q = filterQuery(p, ['q', 'org', 'user', 'project', 'gpu_type', 'reason', 'submitted_after'], ['submitted_after']);
  const state = p.get('state');
  if (state === 'active') for (const s of ACTIVE) q.append('state', s); else if (state) q.set('state', state);
  const to = p.get('submitted_before');
  if (to) {
    const d = new Date(`${to}T00:00`);
    d.setDate(d.getDate() + 1);
    q.set('submitted_before', localToIso(`${d.getFullYear()}-${String(d.getMonth() + 1).padStart(2, '0')}-${String(d.getDate()).padStart(2, '0')}`));
  }
  return q;
}

export async function jobsPage(main, ctx) {
  const role = ctx.me.role;
  const filters = [
    { name: 'q', kind: 'search', label: t('filter.search'), placeholder: t('filter.searchHint') },
    { name: 'state', kind: 'select', label: t('filter.state'), options: [['', t('filter.allStates')], ['active', t('filter.active')],
      ...STATES.map((s) => [s, t(`state.${s}`)])] },
    ...(role === 'operator' ? [{ name: 'org', kind: 'select', label: t('filter.org'), options: [['', t('filter.allOrgs')], ...await orgOptions(ctx)] }] : []),
    ...(role !== 'member' ? [{ name: 'user', kind: 'text', label: t('filter.user') }] : []),
    { name: 'project', kind: 'text', label: t('filter.project') },
    { name: 'gpu_type', kind: 'select', label: t('filter.gpuType'), options: [['', t('filter.allTypes')]] },
    { name: 'reason', kind: 'text', label: t('filter.reason') },
    { name: 'submitted_after', kind: 'date', label: t('filter.from') },
    { name: 'submitted_before', kind: 'date', label: t('filter.to') },
  ];
  let digits = 2;
  const list = serverList({
    ctx, id: 'jobs', path: '/jobs', filters, defaultSort: '-id', emptyKey: 'jobs.empty',
    columns: [
      { label: t('job.id'), sort: 'id' }, { label: t('job.name'), sort: 'name' }, { label: t('job.state'), sort: 'state' },
      { label: t('job.org'), sort: 'org' }, { label: t('job.project'), sort: 'project' }, { label: t('job.user'), sort: 'user' },
      { label: t('job.shape'), sort: 'gpus' }, { label: t('job.submitted'), sort: 'submitted' }, { label: t('job.ran') },
      { label: t('job.cost'), num: true }],
    query: jobsQuery,
    itemsOf: (data) => {
      digits = pointsDigits(data.items.map((j) => j.final_cost ?? j.estimated_cost));
      return data.items;
    },
    row: (job) => h('tr', { 'data-job-row': job.id },
      h('td', {}, jobLink(job)), h('td', { class: 'wrap' }, raw(job.name)), h('td', {}, stateBadge(job.state)),
      h('td', {}, raw(job.org)), h('td', {}, raw(job.project)), h('td', {}, raw(job.user)),
      h('td', {}, shapeText(job)), h('td', {}, fmtTime(job.submitted_at)),
      h('td', { 'data-col': 'ran', 'data-value': job.ran_s ?? '' }, fmtDuration(job.ran_s)), costCell(job, digits)),
  });
  main.append(h('div', { class: 'page-head' }, h('h1', {}, t('jobs.title')),
    h('a', { href: '#/submit', class: 'button', id: 'jobs-submit' }, t('jobs.submit'))),
  h('p', { class: 'muted' }, t(`jobs.scope.${role}`)), list.el);
  let typed = false;  // the GPU types come from the cluster document: asked for after the first page is drawn
  ctx.poll(async () => {
    await list.refresh();
    if (!typed) { typed = true; fillTypes(list.el.querySelector('#filter-gpu_type'), ctx.signal); }
  }, 4000);
}
