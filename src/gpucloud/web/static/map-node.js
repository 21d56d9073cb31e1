// The panel of one node, opened from the map (a click, or Enter on the focused GPU): its GPUs and the jobs on
// them, its state and reservation, and for operators: drain (no new jobs; running ones finish), take down now
// (its jobs are cancelled too) or bring up, each after a confirmation (PUT /cluster/nodes/{node}/state).
import { api } from './api.js';
import { h, raw } from './dom.js';
import { fmtTime, t, tParts } from './i18n.js';
import { confirmButton, table } from './common.js';

export function nodePanel({ ctx, node, jobOf, onChanged, onClose }) {
  const operator = ctx.me.role === 'operator';
  const down = node.state === 'down';
  const jobs = [...new Set(node.gpus.filter((g) => g.busy && g.job_id != null).map((g) => g.job_id))];
  const gpuRows = node.gpus.map((g) => {
    const job = g.job_id != null ? jobOf(g.job_id) : null;
    return h('tr', { 'data-gpu': g.index }, h('td', { class: 'num' }, String(g.index)),
      h('td', {}, !g.busy ? t('map.idle') : g.job_id == null ? t('map.hidden')
        : [h('a', { href: `#/jobs/${g.job_id}`, 'data-job': g.job_id }, t('map.job', { id: g.job_id })),
          job ? [' ', raw(job.name || ''), ' · ', raw(job.org), ' · ', raw(job.user)] : null]));
  });
  const setState = async (state, reason, stopJobs) => {
    await api(`/cluster/nodes/${encodeURIComponent(node.name)}/state`, { method: 'PUT',
      body: { state, reason: reason ?? '', stop_jobs: stopJobs } });
    await onChanged();
  };
  const reasonInput = () => h('input', { class: 'reason-input', placeholder: t('node.reasonHint'), 'data-node-reason': '' });
  // a node that is up can be drained or taken down; a down one brought up, or, while jobs still drain from it,
  // taken down now (its jobs cancelled)
  const downNow = () => confirmButton({ label: t('node.down'), yes: t('node.downYes'), extra: reasonInput,
    question: jobs.length ? t('node.downConfirmJobs', { n: jobs.length }) : t('node.downConfirm'),
    attrs: { 'data-action': 'down' }, action: (input) => setState('down', input.value || node.state_reason, true) });
  const ops = operator ? h('div', { class: 'node-ops actions' },
    down ? [confirmButton({ label: t('node.up'), question: tParts('node.upConfirm', { node: raw(node.name) }), yes: t('node.upYes'),
      danger: false, attrs: { 'data-action': 'up' }, action: () => setState('up', '', false) }), jobs.length ? downNow() : null] : [
      confirmButton({ label: t('node.drain'), question: t('node.drainConfirm'), yes: t('node.drainYes'), extra: reasonInput,
        attrs: { 'data-action': 'drain' }, action: (input) => setState('down', input.value, false) }),
      downNow()]) : null;
  const res = node.reservation;
  return h('section', { class: 'card node-panel', id: 'node-panel', 'data-node': node.name, 'aria-labelledby': 'node-panel-title' },
    h('div', { class: 'page-head' }, h('h2', { id: 'node-panel-title' }, t('node.title'), ' ', raw(node.name)),
      h('span', { class: `badge ${down ? 'state-failed' : 'state-running'}`, 'data-node-state': node.state || 'up' },
        t(down ? (jobs.length ? 'node.draining' : 'node.isDown') : 'node.isUp')),
      h('button', { type: 'button', class: 'link', id: 'node-panel-close', onclick: onClose }, t('node.close'))),
    h('p', { class: 'muted' }, raw(node.gpu_type), down && node.state_reason ? [' · ', t('map.downReason'), ' ', raw(node.state_reason)] : null,
      res ? [' · ', t(res.active ? 'map.reservationNow' : 'map.reservationNext'), ' ', raw(res.name),
        ' (', t('map.window', { start: fmtTime(res.start), end: fmtTime(res.end) }), ')'] : null),
    ops, table(['node.gpu', 'node.holder'], gpuRows));
}
