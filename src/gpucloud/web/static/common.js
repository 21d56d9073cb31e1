// Pieces shared by the pages: state badges, job shapes, links, tables (always inside a scroll container), forms
// with 422 field errors, a confirmation step for actions that cannot be undone, and a copy button.
import { ApiError } from './api.js';
import { h, raw } from './dom.js';
import { t, tMaybe, tn } from './i18n.js';

export const STATES = ['pending', 'admitted', 'running', 'preempting', 'succeeded', 'failed', 'cancelled', 'timed_out'];
export const ACTIVE = new Set(['pending', 'admitted', 'running', 'preempting']);

export function stateBadge(state) {
  return h('span', { class: `badge state-${state}`, 'data-state': state }, tMaybe(`state.${state}`) ?? raw(state));
}

/** "2 nodes × 4 GPUs · H100", "1 GPU · any GPU type". */
export function shapeText(job) {
  const type = job.assigned_gpu_type || job.gpu_type;
  const count = job.nodes
    ? t('shape.nodesTimes', { nodes: tn('count.nodes', job.nodes), per: tn('count.gpus', Math.round(job.num_gpus / job.nodes)) })
    : tn('count.gpus', job.num_gpus);
  return h('span', { class: 'shape' }, count, ' · ', type ? raw(type) : t('shape.anyType'));
}

/** May the caller open this job's page? Operators and org-admins (their org's, the API decides) yes; members
 * only their own (the queue shows them their org-mates' entries too). */
export function canOpenJob(me, job) {
  return me.role !== 'member' || job.user === me.name;
}

export function jobLink(job, me) {
  if (me && !canOpenJob(me, job)) return h('span', { class: 'job-id', 'data-job-id': job.id }, `#${job.id}`);
  return h('a', { href: `#/jobs/${job.id}`, 'data-job': job.id }, `#${job.id}`);
}

/** A table inside a horizontal scroll container, so a wide table never widens the page. */
export function table(headKeys, rows, attrs = {}) {
  return h('div', { class: 'table-scroll' }, h('table', { class: 'grid', ...attrs },
    h('thead', {}, h('tr', {}, ...headKeys.map((k) => (k instanceof Node ? k : h('th', {}, k ? t(k) : ''))))),
    h('tbody', {}, ...rows)));
}

export function emptyRow(cols, key) {
  return h('tr', { class: 'empty' }, h('td', { colspan: cols }, t(key)));
}

/** A labelled input with a slot for its 422 message. `field` is the API's field name. */
export function field(labelKey, fieldName, input, help = null) {
  input.name = input.name || fieldName;
  if (!input.id) input.id = `f-${fieldName}-${Math.random().toString(36).slice(2, 8)}`;
  return h('div', { class: 'field', 'data-field': fieldName },
    h('label', { for: input.id }, t(labelKey)), input, help ? h('div', { class: 'muted small' }, ...[help].flat()) : null,
    h('div', { class: 'field-error', 'data-error-for': fieldName }));
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
  } else {
    general.append(errorLine(err));
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
  if (err instanceof DOMException && err.name === 'AbortError') return '';
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

/**
 * A button whose action waits for a confirmation: the first click shows `question` (text or nodes) with "yes"
 * and "no" buttons in its place; "yes" runs `action` (an error is shown next to it). `attrs` go on the button.
 */
export function confirmButton({ label, question, yes, no = t('common.no'), action, danger = true, attrs = {},
  extra = null, onToggle = () => {} }) {
  const box = h('span', { class: 'confirm-box' });
  const msg = h('span', { class: 'inline-msg' });
  const show = (asking) => {
    onToggle(asking);
    if (!asking) { box.replaceChildren(button, msg); return; }
    const input = typeof extra === 'function' ? extra() : null;
    box.replaceChildren(h('span', { class: 'confirm', role: 'alert', 'data-confirm-text': attrs['data-action'] || '' }, question),
      input, ' ',
      h('button', { type: 'button', class: danger ? 'danger' : '', 'data-confirm': 'yes', onclick: async () => {
        msg.replaceChildren();
        try { await action(input); show(false); } catch (err) { box.replaceChildren(button, msg); msg.append(errorLine(err)); onToggle(false); }
      } }, yes), ' ',
      h('button', { type: 'button', class: 'secondary', 'data-confirm': 'no', onclick: () => show(false) }, no));
    box.querySelector('[data-confirm=yes]').focus();
  };
  const button = h('button', { type: 'button', class: 'secondary', ...attrs, onclick: () => show(true) }, label);
  box.append(button, msg);
  return box;
}

/** A button that copies `text()` to the clipboard and says so. */
export function copyButton(text, attrs = {}) {
  const done = h('span', { class: 'inline-msg ok', role: 'status' });
  const button = h('button', { type: 'button', class: 'secondary', ...attrs, onclick: async () => {
    const value = text();
    try { await navigator.clipboard.writeText(value); done.textContent = t('common.copied'); } catch {
      done.textContent = t('common.copyFailed');
    }
  } }, t('common.copy'));
  return h('span', { class: 'copy' }, button, done);
}
