// Start-time forecasts (docs/forecasts.md): a pending job's predicted start, its p10–p90 range and what it
// waits for, in the queue's table and on the job page; and the job page's shape advice (GET /jobs/N/advice):
// the shapes the job could ask for instead, with when each would start and end. Texts come from the
// dictionaries (what it waits for from the structured fields), never from the server's English.
import { api } from './api.js';
import { h, raw } from './dom.js';
import { fmtDuration, fmtTime, t } from './i18n.js';
import { errorLine, table } from './common.js';
import { reasonText } from './reasons.js';

const now = () => Date.now() / 1000;

/** "in 1h 5m" / "now" / "not within 90 days". */
export function startIn(at) {
  if (at == null) return t('forecast.beyond');
  return at <= now() + 30 ? t('forecast.now') : t('forecast.in', { d: fmtDuration(at - now()) });
}

/** What the job waits for: the head job it is behind (a link when it is the reader's to open), else its reason. */
export function waitsFor(f, job) {
  if (f.blocked_by != null) return t('forecast.behindHead', { id: f.blocked_by });
  if (f.start != null && f.start <= f.made_at) return t('forecast.nothing');
  return job.reason === 'no fitting nodes' ? t('forecast.noFit') : reasonText(job.reason);
}

/** The queue table's cell: predicted start, how far away, and the range under it. */
export function startCell(f) {
  if (!f) return h('span', { class: 'muted' }, '—');
  return h('span', { 'data-forecast': f.start ?? '' }, h('span', {}, startIn(f.start)),
    f.start != null ? h('span', { class: 'muted small' }, ' ', t('forecast.range', { from: fmtTime(f.earliest), to: fmtTime(f.latest) })) : '');
}

/** The job page's lines for a pending job's forecast (none without one), made by `prop(key, value)`. */
export function forecastProps(job, prop) {
  const f = job.forecast;
  if (!f) return [];
  return [...prop('forecast.start', h('span', { id: 'job-forecast', 'data-forecast': f.start ?? '' },
    f.start != null ? `${fmtTime(f.start)} (${startIn(f.start)})` : startIn(null))),
  ...(f.start != null ? prop('forecast.between', t('forecast.range', { from: fmtTime(f.earliest), to: fmtTime(f.latest) })) : []),
  ...prop('forecast.waitsFor', waitsFor(f, job))];
}

/** A card with a button that asks for the shape advice of pending job `id` and shows it as a table. */
export function adviceCard(id, signal) {
  const body = h('div', { id: 'job-advice' });
  const ask = h('button', { class: 'secondary', id: 'ask-advice', type: 'button' }, t('advice.ask'));
  ask.addEventListener('click', async () => {
    ask.disabled = true;
    try {
      const advice = await api(`/jobs/${id}/advice`, { signal });
      body.replaceChildren(table(['', 'advice.gpus', 'advice.nodes', 'advice.type', 'advice.walltime', 'advice.start', 'advice.end'],
        advice.options.map((o) => h('tr', { 'data-current': o.current ? 'yes' : 'no' },
          h('td', {}, o.current ? t('advice.current') : ''), h('td', { class: 'num' }, String(o.num_gpus)),
          h('td', {}, o.nodes == null ? t('advice.auto') : String(o.nodes)), h('td', {}, o.gpu_type ? raw(o.gpu_type) : t('advice.any')),
          h('td', {}, fmtDuration(o.walltime_s)), h('td', {}, startIn(o.start)), h('td', {}, fmtTime(o.end)))),
        { id: 'advice-table' }));
    } catch (err) {
      body.replaceChildren(h('p', {}, errorLine(err)));
    } finally {
      ask.disabled = false;
    }
  });
  return h('section', { class: 'card', id: 'advice-card' }, h('h2', {}, t('advice.title')),
    h('p', { class: 'muted small' }, t('advice.about')), ask, body);
}
