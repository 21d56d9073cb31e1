// Queue, jobs and one job (events, placement, cost, live log tail, cancel).
import { api } from './api.js';
import { h, raw } from './dom.js';
import { fmtDuration, fmtNumber, fmtPoints, fmtTime, t } from './i18n.js';
import { ACTIVE, STATES, emptyRow, errorLine, jobLink, reasonText, shapeText, stateBadge, table } from './common.js';

const now = () => Date.now() / 1000;

export function queuePage(main, ctx) {
  const note = h('p', { class: 'muted', id: 'queue-note' });
  const body = h('div', { id: 'queue' });
  let org = '';
  const filters = h('div', { class: 'filters' });
  if (ctx.me.role === 'operator') {
    const select = h('select', { id: 'queue-org', onchange: () => { org = select.value; refresh(); } },
      h('option', { value: '' }, t('filter.allOrgs')));
    api('/orgs', { signal: ctx.signal }).then((orgs) => orgs.forEach((o) => select.append(raw(o.name, 'option', { value: o.name }))), () => {});
    filters.append(h('label', {}, t('filter.org'), ' ', select));
  }
  main.append(h('div', { class: 'page-head' }, h('h1', {}, t('queue.title'))), filters, note, body);
  const refresh = async () => {
    const data = await api(`/queue${org ? `?org=${encodeURIComponent(org)}` : ''}`, { signal: ctx.signal });
    note.textContent = t('queue.note', { total: fmtNumber(data.total_pending), shown: fmtNumber(data.items.length) });
    const rows = data.items.map(({ position, job }) => h('tr', { 'data-job-row': job.id },
      h('td', { class: 'num' }, fmtNumber(position)), h('td', {}, jobLink(job)), h('td', {}, raw(job.name)),
      h('td', {}, raw(job.org)), h('td', {}, raw(job.user)), h('td', {}, shapeText(job)),
      h('td', {}, t(`priority.${job.priority}`)), h('td', {}, fmtDuration(now() - job.queued_at)),
      h('td', {}, reasonText(job.reason))));
    body.replaceChildren(table(['queue.position', 'job.id', 'job.name', 'job.org', 'job.user', 'job.shape',
      'job.priority', 'queue.waiting', 'queue.reason'], rows.length ? rows : [emptyRow(9, 'queue.empty')]));
  };
  ctx.poll(refresh, 3000);
}

function jobRow(job) {
  const ran = job.started_at ? (job.ended_at ?? now()) - job.started_at : null;
  return h('tr', { 'data-job-row': job.id },
    h('td', {}, jobLink(job)), h('td', {}, raw(job.name)), h('td', {}, stateBadge(job.state)),
    h('td', {}, raw(job.org)), h('td', {}, raw(job.project)), h('td', {}, raw(job.user)),
    h('td', {}, shapeText(job)), h('td', {}, fmtTime(job.submitted_at)), h('td', {}, fmtDuration(ran)));
}

export function jobsPage(main, ctx) {
  const stateSel = h('select', { id: 'filter-state' }, h('option', { value: '' }, t('filter.allStates')),
    ...STATES.map((s) => h('option', { value: s }, t(`state.${s}`))));
  const filters = h('div', { class: 'filters' }, h('label', {}, t('filter.state'), ' ', stateSel));
  let orgSel = null;
  if (ctx.me.role === 'operator') {
    orgSel = h('select', { id: 'filter-org' }, h('option', { value: '' }, t('filter.allOrgs')));
    api('/orgs', { signal: ctx.signal }).then((orgs) => orgs.forEach((o) => orgSel.append(raw(o.name, 'option', { value: o.name }))), () => {});
    filters.append(h('label', {}, t('filter.org'), ' ', orgSel));
  }
  const scope = h('p', { class: 'muted' }, t(`jobs.scope.${ctx.me.role}`));
  const body = h('div', { id: 'jobs' });
  const more = h('button', { type: 'button', class: 'secondary', id: 'jobs-more', hidden: true }, t('jobs.more'));
  main.append(h('div', { class: 'page-head' }, h('h1', {}, t('jobs.title'))), scope, filters, body, more);

  let items = [], cursor = null, pages = 1;
  const query = () => {
    const q = new URLSearchParams();
    if (stateSel.value) q.set('state', stateSel.value);
    if (orgSel && orgSel.value) q.set('org', orgSel.value);
    return q;
  };
  const draw = () => {
    body.replaceChildren(table(['job.id', 'job.name', 'job.state', 'job.org', 'job.project', 'job.user', 'job.shape',
      'job.submitted', 'job.ran'], items.length ? items.map(jobRow) : [emptyRow(9, 'jobs.empty')]));
    more.hidden = cursor == null;
  };
  const load = async () => {  // the first `pages` pages again (live refresh keeps what was loaded)
    const q = query();
    q.set('limit', '50');
    let got = [], next = null;
    for (let p = 0; p < pages; p++) {
      if (next) q.set('cursor', String(next));
      const data = await api(`/jobs?${q}`, { signal: ctx.signal });
      got = got.concat(data.items);
      next = data.next_cursor;
      if (next == null) break;
    }
    items = got; cursor = next;
    draw();
  };
  stateSel.addEventListener('change', () => { pages = 1; load(); });
  if (orgSel) orgSel.addEventListener('change', () => { pages = 1; load(); });
  more.addEventListener('click', () => { pages++; load(); });
  ctx.poll(load, 4000);
}

export async function jobPage(main, ctx, id) {
  const head = h('div', { class: 'page-head' });
  const actions = h('div', { class: 'actions', id: 'job-actions' });
  const info = h('dl', { class: 'props', id: 'job-info' });
  const placement = h('div', { id: 'job-placement' });
  const events = h('div', { id: 'job-events' });
  const streamSel = h('select', { id: 'log-stream' }, h('option', { value: 'stdout' }, t('logs.stdout')),
    h('option', { value: 'stderr' }, t('logs.stderr')));
  const logStatus = h('span', { class: 'muted', id: 'log-status' });
  const pre = h('pre', { class: 'log', id: 'job-log', 'data-raw': '' });
  main.append(h('p', {}, h('a', { href: '#/jobs' }, t('job.back'))), head, actions,
    h('div', { class: 'cols' },
      h('section', { class: 'card' }, h('h2', {}, t('job.details')), info),
      h('section', { class: 'card' }, h('h2', {}, t('job.placement')), placement)),
    h('section', { class: 'card' }, h('div', { class: 'page-head' }, h('h2', {}, t('job.logs')), streamSel, logStatus), pre),
    h('section', { class: 'card' }, h('h2', {}, t('job.events')), events));

  let job = null, confirming = false, message = null;
  const drawActions = () => {
    actions.replaceChildren();
    if (!job || !ACTIVE.has(job.state)) return;
    if (job.cancel_requested) { actions.append(h('span', { class: 'muted', id: 'cancel-requested' }, t('job.cancelRequested'))); return; }
    if (!confirming) {
      actions.append(h('button', { type: 'button', class: 'danger', id: 'cancel-job', onclick: () => { confirming = true; drawActions(); } },
        t('job.cancel')));
    } else {
      actions.append(h('span', {}, t('job.cancelConfirm')), ' ',
        h('button', { type: 'button', class: 'danger', id: 'cancel-yes', onclick: cancel }, t('job.cancelYes')), ' ',
        h('button', { type: 'button', class: 'secondary', id: 'cancel-no', onclick: () => { confirming = false; drawActions(); } },
          t('job.cancelNo')));
    }
    if (message) actions.append(' ', message);
  };
  async function cancel() {
    try {
      job = { ...job, ...(await api(`/jobs/${id}/cancel`, { method: 'POST' })) };
      confirming = false; message = null;
      drawJob();
    } catch (err) { message = errorLine(err); drawActions(); }
  }
  const prop = (key, value) => [h('dt', {}, t(key)), h('dd', { 'data-prop': key }, value)];
  // Points held for the current or last run (its whole walltime) and charged over the ended runs; both null
  // when no tariff was in force.
  const costProps = (j) => {
    const pts = (v) => h('span', { 'data-points': v }, t('points.n', { n: fmtPoints(v) }));
    if (j.estimated_cost == null && j.final_cost == null) return prop('job.cost', t('job.costMissing'));
    return [...prop('job.estimatedCost', j.estimated_cost == null ? '—' : pts(j.estimated_cost)),
      ...prop('job.finalCost', j.final_cost != null ? pts(j.final_cost) : t(ACTIVE.has(j.state) ? 'job.costPending' : 'job.costNone'))];
  };
  const drawJob = () => {
    head.replaceChildren(h('h1', {}, t('job.title', { id: job.id }), ' ', raw(job.name)), stateBadge(job.state));
    const yes = (b) => t(b ? 'common.yes' : 'common.no');
    info.replaceChildren(
      ...prop('job.org', raw(job.org)), ...prop('job.project', raw(job.project)), ...prop('job.user', raw(job.user)),
      ...prop('job.command', raw(job.argv.join(' '), 'code')), ...prop('job.shape', shapeText(job)),
      ...prop('job.priority', t(`priority.${job.priority}`)), ...prop('job.preemptible', yes(job.preemptible)),
      ...prop('job.walltime', fmtDuration(job.walltime_s)), ...prop('job.submitted', fmtTime(job.submitted_at)),
      ...prop('job.started', fmtTime(job.started_at)), ...prop('job.ended', fmtTime(job.ended_at)),
      ...prop('job.ran', fmtDuration(job.started_at ? (job.ended_at ?? now()) - job.started_at : null)),
      ...prop('job.exitCode', job.exit_code ?? '—'), ...prop('job.reason', reasonText(job.reason)),
      ...prop('job.runs', fmtNumber(job.run_count)), ...prop('job.preemptions', fmtNumber(job.preemptions)),
      ...costProps(job));
    placement.replaceChildren(job.placement && job.placement.length
      ? table(['job.node', 'job.gpus'], job.placement.map((p) => h('tr', {}, h('td', {}, raw(p.node)),
        h('td', {}, raw(p.gpus.join(', '))))))
      : h('p', { class: 'muted' }, t('job.notPlaced')));
    if (job.events) {
      events.replaceChildren(table(['event.at', 'event.from', 'event.to', 'event.reason'], job.events.map((e) => h('tr', {},
        h('td', {}, fmtTime(e.at)), h('td', {}, e.from_state ? stateBadge(e.from_state) : '—'), h('td', {}, stateBadge(e.to_state)),
        h('td', {}, reasonText(e.reason))))));
    }
    drawActions();
  };

  try {
    job = await api(`/jobs/${id}`, { signal: ctx.signal });
  } catch (err) {
    head.replaceChildren(h('h1', {}, t('job.title', { id })));
    main.append(h('p', { id: 'job-missing' }, err.status === 404 ? t('job.notFound') : errorLine(err)));
    return;
  }
  drawJob();
  ctx.poll(async () => {
    if (!ACTIVE.has(job.state) && job.events) return;
    job = await api(`/jobs/${id}`, { signal: ctx.signal });
    drawJob();
  }, 2000);

  // The log tail: read from `offset`, append, keep the last 256 KiB; stop when the API says done.
  const KEEP = 256 * 1024;
  let stream = 'stdout', offset = 0, done = false, generation = 0;
  streamSel.addEventListener('change', () => { stream = streamSel.value; offset = 0; done = false; pre.textContent = ''; generation++; });
  ctx.poll(async () => {
    if (done) return;
    const mine = generation;
    for (let i = 0; i < 20; i++) {
      const chunk = await api(`/jobs/${id}/logs?stream=${stream}&offset=${offset}&limit=65536`, { signal: ctx.signal });
      if (mine !== generation) return;
      if (chunk.text) {
        const stick = pre.scrollTop + pre.clientHeight >= pre.scrollHeight - 4;
        let text = pre.textContent + chunk.text;
        if (text.length > KEEP) text = text.slice(text.length - KEEP);
        pre.textContent = text;
        if (stick) pre.scrollTop = pre.scrollHeight;
      }
      offset = chunk.next_offset;
      done = chunk.done;
      logStatus.textContent = done ? t('logs.done', { size: fmtNumber(chunk.size) }) : t('logs.live', { size: fmtNumber(chunk.size) });
      if (done || chunk.next_offset >= chunk.size) break;
    }
  }, 1500);
}
