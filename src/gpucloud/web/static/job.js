// One job: details (the command as a shell would read it, shape, how long it ran over all its runs, costs),
// a pending job's predicted start and shape advice (forecast.js), placement by rank, events with their reasons
// in the reader's language, the logs of every rank, and the
// actions: cancel (after a confirmation), resubmit (the submit form filled in) and copy as a CLI command.
import { api } from './api.js';
import { h, raw } from './dom.js';
import { fmtDuration, fmtNumber, fmtPoints, fmtTime, pointsDigits, t, tParts } from './i18n.js';
import { ACTIVE, confirmButton, copyButton, errorLine, shapeText, stateBadge, table } from './common.js';
import { cliCommand } from './cli.js';
import { logView } from './logs.js';
import { childContext } from './poll.js';
import { reasonText } from './reasons.js';
import { quoteArgv } from './shell.js';
import { adviceCard, forecastProps } from './forecast.js';

const now = () => Date.now() / 1000;
const RUNNING = new Set(['running', 'preempting']);

export async function jobPage(main, ctx, id) {
  const head = h('div', { class: 'page-head' });
  const actions = h('div', { class: 'actions', id: 'job-actions' });
  const info = h('dl', { class: 'props', id: 'job-info' });
  const placement = h('div', { id: 'job-placement' });
  const events = h('div', { id: 'job-events' });
  main.append(h('p', {}, h('a', { href: '#/jobs' }, t('job.back'))), head, actions,
    h('div', { class: 'cols' },
      h('section', { class: 'card' }, h('h2', {}, t('job.details')), info),
      h('section', { class: 'card' }, h('h2', {}, t('job.placement')), placement)));

  let job = null, fetchedAt = 0;
  try {
    job = await api(`/jobs/${id}`, { signal: ctx.signal });
    fetchedAt = now();
  } catch (err) {
    head.replaceChildren(h('h1', {}, t('job.title', { id })));
    main.append(h('p', { id: 'job-missing' }, err.status === 404 ? t('job.notFound') : errorLine(err)));
    return;
  }
  const cli = () => cliCommand({ ...job, reservation: job.reservation_id ? `#${job.reservation_id}` : null },
    { withOrg: ctx.me.role === 'operator' });
  const drawActions = () => {
    actions.replaceChildren();
    if (ACTIVE.has(job.state)) {
      actions.append(job.cancel_requested ? h('span', { class: 'muted', id: 'cancel-requested' }, t('job.cancelRequested'))
        : confirmButton({ label: t('job.cancel'), question: t('job.cancelConfirm'), yes: t('job.cancelYes'),
          attrs: { id: 'cancel-job', 'data-action': 'cancel', class: 'danger' },
          action: async () => { job = { ...job, ...(await api(`/jobs/${id}/cancel`, { method: 'POST' })) }; drawJob(); } }));
    }
    actions.append(h('a', { class: 'button secondary', id: 'resubmit', href: `#/submit?from=${id}` }, t('job.resubmit')),
      h('span', { class: 'cli' }, copyButton(cli, { id: 'copy-cli' }), h('span', { class: 'muted small' }, ...tParts('job.copyCli', { cmd: raw('gpucloud submit', 'code') }))));
  };
  const prop = (key, value) => [h('dt', {}, t(key)), h('dd', { 'data-prop': key }, value)];
  // Points held for the current or last run (its whole walltime) and charged over the ended runs; both null
  // when no tariff was in force.
  const costProps = (j) => {
    const digits = pointsDigits([j.estimated_cost, j.final_cost]);
    const pts = (v) => h('span', { 'data-points': v }, t('points.n', { n: fmtPoints(v, digits) }));
    if (j.estimated_cost == null && j.final_cost == null) return prop('job.cost', t('job.costMissing'));
    return [...prop('job.estimatedCost', j.estimated_cost == null ? '—' : pts(j.estimated_cost)),
      ...prop('job.finalCost', j.final_cost != null ? pts(j.final_cost) : t(ACTIVE.has(j.state) ? 'job.costPending' : 'job.costNone'))];
  };
  const ran = () => (job.ran_s == null ? null : job.ran_s + (RUNNING.has(job.state) ? now() - fetchedAt : 0));
  const drawJob = () => {
    head.replaceChildren(h('h1', {}, t('job.title', { id: job.id }), ' ', raw(job.name)), stateBadge(job.state));
    const yes = (b) => t(b ? 'common.yes' : 'common.no');
    info.replaceChildren(
      ...prop('job.org', raw(job.org)), ...prop('job.project', raw(job.project)), ...prop('job.user', raw(job.user)),
      ...prop('job.command', h('span', { class: 'command' }, raw(quoteArgv(job.argv), 'code', { id: 'job-command' }))),
      ...prop('job.shape', shapeText(job)),
      ...prop('job.priority', t(`priority.${job.priority}`)), ...prop('job.preemptible', yes(job.preemptible)),
      ...prop('job.serviceClass', t(`service.${job.service_class}`)),
      ...prop('job.walltime', fmtDuration(job.walltime_s)), ...prop('job.submitted', fmtTime(job.submitted_at)),
      ...prop('job.started', fmtTime(job.started_at)), ...prop('job.ended', fmtTime(job.ended_at)),
      ...prop('job.ran', h('span', { 'data-ran': job.ran_s ?? '' }, fmtDuration(ran()))),
      ...prop('job.exitCode', job.exit_code ?? '—'), ...prop('job.reason', reasonText(job.reason)), ...forecastProps(job, prop),
      ...prop('job.runs', fmtNumber(job.run_count)), ...prop('job.preemptions', fmtNumber(job.preemptions)),
      ...costProps(job));
    placement.replaceChildren(job.placement && job.placement.length
      ? table(['job.rank', 'job.node', 'job.gpus'], job.placement.map((p, rank) => h('tr', {},
        h('td', { class: 'num' }, fmtNumber(rank)), h('td', {}, raw(p.node)), h('td', { class: 'wrap' }, raw(p.gpus.join(', '))))))
      : h('p', { class: 'muted' }, t('job.notPlaced')));
    if (job.events) {
      events.replaceChildren(table(['event.at', 'event.from', 'event.to', 'event.reason'], job.events.map((e) => h('tr', {},
        h('td', {}, fmtTime(e.at)), h('td', {}, e.from_state ? stateBadge(e.from_state) : '—'), h('td', {}, stateBadge(e.to_state)),
        h('td', { class: 'wrap reason' }, reasonText(e.reason)))), { id: 'events-table' }));
    }
    drawActions();
  };
  drawJob();
  let logCtx = childContext(ctx);
  let logs = logView(logCtx, id, job.placement);
  const eventsCard = h('section', { class: 'card' }, h('h2', {}, t('job.events')), events);
  if (job.state === 'pending') main.append(adviceCard(id, ctx.signal));  // start sooner with another shape?
  main.append(logs, eventsCard);
  ctx.poll(async () => {
    if (!ACTIVE.has(job.state) && job.events) return;
    const placed = JSON.stringify(job.placement);
    job = await api(`/jobs/${id}`, { signal: ctx.signal });
    fetchedAt = now();
    drawJob();
    if (JSON.stringify(job.placement) !== placed && job.placement) {  // placed now (or again): its ranks
      logCtx.stop();
      logCtx = childContext(ctx);
      const fresh = logView(logCtx, id, job.placement);
      logs.replaceWith(fresh);
      logs = fresh;
    }
  }, 2000);
}
