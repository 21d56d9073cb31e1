// Pieces shared by the pages: state badges, job shapes, wait reasons, tables and 422 field errors.
import { ApiError } from './api.js';
import { h, raw } from './dom.js';
import { t, tMaybe } from './i18n.js';

export const STATES = ['pending', 'admitted', 'running', 'preempting', 'succeeded', 'failed', 'cancelled', 'timed_out'];
export const ACTIVE = new Set(['pending', 'admitted', 'running', 'preempting']);

export function stateBadge(state) {
  return h('span', { class: `badge state-${state}`, 'data-state': state }, tMaybe(`state.${state}`) ?? raw(state));
}

// The core's wait reasons (gpucloud.core.types.WaitReason) and the submit reason; others are shown as data.
const REASONS = {
  'no fitting nodes': 'reason.noFit', quota: 'reason.quota', 'behind the head job': 'reason.blocked',
  "would delay the head job's reservation": 'reason.reserved', 'waiting for preempted jobs to stop': 'reason.preempting',
  'no node in the cluster can ever fit it': 'reason.unschedulable', submitted: 'reason.submitted',
  budget: 'reason.budget', reservation: 'reason.reservation',
};
export function reasonText(reason) {
  if (!reason) return '—';
  return REASONS[reason] ? h('span', { 'data-reason': reason }, t(REASONS[reason])) : raw(reason);
}

/** "2 nodes × 4 GPUs · H100" or "3 GPUs · any type". */
export function shapeText(job) {
  const type = job.assigned_gpu_type || job.gpu_type;
  const count = job.nodes ? t('shape.nodes', { nodes: job.nodes, per: Math.round(job.num_gpus / job.nodes) })
    : t('shape.gpus', { n: job.num_gpus });
  return h('span', { class: 'shape' }, count, ' · ', type ? raw(type) : t('shape.anyType'));
}

export function jobLink(job) {
  return h('a', { href: `#/jobs/${job.id}`, 'data-job': job.id }, `#${job.id}`);
}

export function table(headKeys, rows, attrs = {}) {
  return h('table', { class: 'grid', ...attrs },
    h('thead', {}, h('tr', {}, ...headKeys.map((k) => h('th', {}, k ? t(k) : '')))),
    h('tbody', {}, ...rows));
}

export function emptyRow(cols, key) {
  return h('tr', { class: 'empty' }, h('td', { colspan: cols }, t(key)));
}

/** A labelled input with a slot for its 422 message. `field` is the API's field name. */
export function field(labelKey, fieldName, input) {
  input.name = input.name || fieldName;
  return h('div', { class: 'field', 'data-field': fieldName },
    h('label', {}, t(labelKey)), input, h('div', { class: 'field-error', 'data-error-for': fieldName }));
}

/** Show an API error on a form: 422 messages next to their fields (others at the bottom), else one line. */
export function showFormError(form, err) {
  clearFormErrors(form);
  const general = form.querySelector('.form-error');
  if (err instanceof ApiError && err.fields) {
    for (const fe of err.fields) {
      const slot = form.querySelector(`[data-error-for="${CSS.escape(fe.field)}"]`);
      const text = raw(fe.message);
      if (slot) { slot.append(text); slot.closest('.field').classList.add('invalid'); } else {
        general.append(h('div', {}, raw(fe.field), ': ', text));
      }
    }
  } else if (err instanceof ApiError) {
    general.append(tMaybe(`http.${err.status}`) ?? t('error.request'), ' ', raw(typeof err.detail === 'string' ? err.detail : ''));
  } else {
    general.append(t('error.network'));
  }
}

export function clearFormErrors(form) {
  form.querySelectorAll('.field-error, .form-error').forEach((el) => el.replaceChildren());
  form.querySelectorAll('.field.invalid').forEach((el) => el.classList.remove('invalid'));
}

/** The error line of a failed action outside a form. */
export function errorLine(err) {
  if (err instanceof ApiError) {
    return h('span', { class: 'error' }, tMaybe(`http.${err.status}`) ?? t('error.request'), ' ',
      raw(typeof err.detail === 'string' ? err.detail : ''));
  }
  return h('span', { class: 'error' }, t('error.network'));
}

/** A form card: title, fields, optional extra content, a submit button; errors of `onsubmit` (an API error)
 * shown next to their field or under the form. */
export function form(id, titleKey, fields, submitKey, onsubmit, extra = null) {
  const el = h('form', { class: 'card form', id, novalidate: true },
    h('h2', {}, t(titleKey)), h('div', { class: 'form-fields' }, ...fields), extra,
    h('button', { type: 'submit' }, t(submitKey)), h('div', { class: 'form-error error' }), h('div', { class: 'form-result' }));
  el.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    clearFormErrors(el);
    el.querySelector('.form-result').replaceChildren();
    try { await onsubmit(el); } catch (err) { showFormError(el, err); }
  });
  return el;
}
