// The queue: pending jobs in scheduling order, a page at a time from GET /queue (positions in the whole queue),
// with filters, search and sorting kept in the address. Members see their org-mates' entries, but link only to
// their own jobs (the others' pages are not theirs to open). Each entry shows its predicted start (forecast.js).
import { api } from './api.js';
import { h, raw } from './dom.js';
import { fmtDuration, fmtNumber, t } from './i18n.js';
import { jobLink, shapeText } from './common.js';
import { fillTypes } from './gputypes.js';
import { filterQuery, serverList } from './listview.js';
import { WAIT_REASONS, reasonText } from './reasons.js';
import { startCell } from './forecast.js';

const now = () => Date.now() / 1000;
// the page's "waiting" sort is the API's queued time the other way round (the longest wait is the oldest)
const toApiSort = (s) => (s === 'waiting' ? '-queued' : s === '-waiting' ? 'queued' : s);

export async function orgOptions(ctx) {
  if (ctx.me.role !== 'operator') return [];
  const orgs = await api('/orgs', { signal: ctx.signal });
  return orgs.map((o) => [o.name, o.name, true]);
}

export async function queuePage(main, ctx) {
  const operator = ctx.me.role === 'operator';
  const filters = [
    { name: 'q', kind: 'search', label: t('filter.search'), placeholder: t('filter.searchHint') },
    ...(operator ? [{ name: 'org', kind: 'select', label: t('filter.org'), options: [['', t('filter.allOrgs')], ...await orgOptions(ctx)] }] : []),
    { name: 'user', kind: 'text', label: t('filter.user') },
    { name: 'project', kind: 'text', label: t('filter.project') },
    { name: 'gpu_type', kind: 'select', label: t('filter.gpuType'), options: [['', t('filter.allTypes')]] },
    { name: 'reason', kind: 'select', label: t('filter.reason'),
      options: [['', t('filter.allReasons')], ...WAIT_REASONS.map((r) => [r, reasonText(r).textContent])] },
  ];
  const list = serverList({
    ctx, id: 'queue', path: '/queue', filters, defaultSort: 'position', emptyKey: 'queue.empty',
    columns: [
      { label: t('queue.position'), sort: 'position', num: true }, { label: t('job.id') }, { label: t('job.name'), sort: 'name' },
      { label: t('job.org'), sort: 'org' }, { label: t('job.user'), sort: 'user' }, { label: t('job.shape'), sort: 'gpus' },
      { label: t('job.priority'), sort: 'priority' }, { label: t('queue.waiting'), sort: 'waiting' }, { label: t('queue.reason') }, { label: t('queue.start') }],
    query: (p) => {  // with each entry's predicted start (docs/forecasts.md)
      const q = filterQuery(p, ['q', 'org', 'user', 'project', 'gpu_type', 'reason']);
      q.set('start', 'true');
      return q;
    },
    apiSort: toApiSort,
    itemsOf: (data) => data.items,
    note: (data) => t('queue.note', { total: fmtNumber(data.total_pending) }),
    row: ({ position, job, forecast }) => h('tr', { 'data-job-row': job.id },
      h('td', { class: 'num' }, fmtNumber(position)), h('td', {}, jobLink(job, ctx.me)), h('td', { class: 'wrap' }, raw(job.name)),
      h('td', {}, raw(job.org)), h('td', {}, raw(job.user)), h('td', {}, shapeText(job)),
      h('td', {}, t(`priority.${job.priority}`)), h('td', {}, fmtDuration(now() - job.queued_at)),
      h('td', { class: 'wrap' }, reasonText(job.reason)), h('td', { class: 'wrap' }, startCell(forecast))),
  });
  main.append(h('div', { class: 'page-head' }, h('h1', {}, t('queue.title'))), list.el);
  let typed = false;  // the GPU types come from the cluster document: asked for after the first page is drawn
  ctx.poll(async () => {
    await list.refresh();
    if (!typed) { typed = true; fillTypes(list.el.querySelector('#filter-gpu_type'), ctx.signal); }
  }, 3000);
}
