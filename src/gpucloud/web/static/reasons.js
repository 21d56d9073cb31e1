// Reasons written by the server (why a job waits, why it changed state) in the reader's language. The known
// forms are matched by pattern; their data (names, nodes, numbers, messages from the system) stays as written,
// marked data-raw. A reason of an unknown form is shown as written.
import { h, raw } from './dom.js';
import { tParts } from './i18n.js';

/** The scheduler's wait reasons (gpucloud.core.types.WaitReason) and a fresh job's, for the queue's filter. */
export const WAIT_REASONS = ['submitted', 'no fitting nodes', 'quota', 'behind the head job',
  "would delay the head job's reservation", 'waiting for preempted jobs to stop', 'no node in the cluster can ever fit it',
  'budget', 'reservation'];

// [pattern, key, kinds of the captured parts in order: 'raw' (data) or 'reason' (translated the same way)]
const FORMS = [
  [/^submitted$/, 'reason.submitted', []],
  [/^no fitting nodes$/, 'reason.noFit', []],
  [/^quota$/, 'reason.quota', []],
  [/^behind the head job$/, 'reason.blocked', []],
  [/^would delay the head job's reservation$/, 'reason.reserved', []],
  [/^waiting for preempted jobs to stop$/, 'reason.preempting', []],
  [/^no node in the cluster can ever fit it$/, 'reason.unschedulable', []],
  [/^budget$/, 'reason.budget', []],
  [/^budget: (.+)$/s, 'reason.budgetWhy', ['raw']],
  [/^reservation$/, 'reason.reservation', []],
  [/^submitted by (.+)$/, 'reason.submittedBy', ['raw']],
  [/^admitted on (.+)$/s, 'reason.admittedOn', ['raw']],
  [/^started$/, 'reason.started', []],
  [/^started before the server restarted; re-attached$/, 'reason.reattached', []],
  [/^cancelled by (.+)$/, 'reason.cancelledBy', ['raw']],
  [/^cancel requested by (.+)$/, 'reason.cancelRequestedBy', ['raw']],
  [/^cancelled: stopped \((.+)\)$/s, 'reason.cancelledStopped', ['reason']],
  [/^walltime of (\S+?)s reached; stopped \((.+)\)$/s, 'reason.walltime', ['raw', 'reason']],
  [/^exit code 0 \(during the preemption grace period\)$/, 'reason.exitInGrace', []],
  [/^preempted: stopped \((.+)\); back in the queue$/s, 'reason.preemptedRequeued', ['reason']],
  [/^(.+); back in the queue$/s, 'reason.requeued', ['reason']],
  [/^preempted for job (\d+): (.+)$/s, 'reason.preemptedFor', ['raw', 'reason']],
  [/^preempted: (.+)$/s, 'reason.preempted', ['reason']],
  [/^priority: job (\d+) has a higher priority class$/, 'reason.byPriority', ['raw']],
  [/^policy: job (\d+) ranks before it$/, 'reason.byPolicy', ['raw']],
  [/^reservation (\S+) holds its node from now$/, 'reason.reservationNode', ['raw']],
  [/^exit code (-?\d+)$/, 'reason.exitCode', ['raw']],
  [/^killed by signal (\d+) \((\w+)\)$/, 'reason.signalNamed', ['raw', 'raw']],
  [/^killed by signal (\d+)$/, 'reason.signal', ['raw']],
  [/^rank (\d+) \(([^)]*)\): (.+)$/s, 'reason.rank', ['raw', 'raw', 'reason']],
  [/^process vanished$/, 'reason.vanished', []],
  [/^ended$/, 'reason.ended', []],
  [/^cannot start: (.+)$/s, 'reason.cannotStart', ['raw']],
  [/^cannot watch the job's processes: (.+)$/s, 'reason.cannotWatch', ['raw']],
  [/^process died while the server was down$/, 'reason.lost', []],
  [/^process died while the server was down \(no handle recorded\)$/, 'reason.lostNoHandle', []],
  [/^process died while the server was down: (.+)$/s, 'reason.lostWhy', ['raw']],
  [/^requeued: the server stopped before launching it$/, 'reason.notLaunched', []],
  [/^the server died while launching the job; it may have started, so it is not launched again$/, 'reason.halfLaunched', []],
  [/^recovery after a restart failed: (.+)$/s, 'reason.recoveryFailed', ['raw']],
  [/^reservation (.+) was cancelled by (.+)$/, 'reason.reservationCancelled', ['raw', 'raw']],
  [/^its reservation ended or was rejected before it could start$/, 'reason.reservationGone', []],
  [/^node (\S+) taken down by ([^:]+)(?:: (.+))?$/s, 'reason.nodeDown', ['raw', 'raw', 'raw']],
];

/** The reason as DOM: translated when its form is known (data-reason holds it as written), else as written. */
export function reasonText(reason) {
  if (!reason) return '—';
  const node = translate(reason);
  return node ? h('span', { 'data-reason': reason }, node) : raw(reason);
}

function translate(reason) {
  for (const [re, key, kinds] of FORMS) {
    const m = re.exec(reason);
    if (!m) continue;
    const vars = {};
    kinds.forEach((kind, i) => {
      const part = m[i + 1];
      vars[`p${i}`] = part === undefined ? '' : kind === 'reason' ? (translate(part) ?? raw(part)) : raw(part);
    });
    return h('span', {}, ...tParts(key, vars));
  }
  return null;
}
