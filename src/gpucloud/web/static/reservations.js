// Reservations: the list the caller may see (operators: every org; others: their org), newest window first; a
// request form with a free-capacity check for org-admins and operators (who name the org); approve / reject for
// operators and cancel (with a confirmation step that says when it is refunded) for the org's admins and operators.
// Members see the list only. The API decides anyway (docs/reservations.md).
import { api } from './api.js';
import { h, raw } from './dom.js';
import { fmtDuration, fmtNumber, fmtPoints, fmtTime, pointsDigits, t, tMaybe, tParts } from './i18n.js';
import { clearFormErrors, emptyRow, errorLine, field, showFormError, table } from './common.js';
import { gpuTypes } from './gputypes.js';
import { isoLocal, localToIso } from './time.js';

const now = () => Date.now() / 1000;
const CANCELLABLE = new Set(['requested', 'approved', 'active']);

export function reservationState(state) {
  return h('span', { class: `badge res-${state}`, 'data-state': state }, tMaybe(`res.state.${state}`) ?? raw(state));
}

const points = (value, col, digits) => h('td', { class: 'num', 'data-col': col, 'data-value': value ?? '' },
  value == null ? '—' : fmtPoints(value, digits));

/** What approving `r` would charge now (POST /quotes/reservation), as the confirmation's text. */
async function approveQuestion(r, signal) {
  try {
    const q = await api('/quotes/reservation', { method: 'POST', signal, body: { gpu_type: r.gpu_type, nodes: r.nodes,
      start: r.start, end: r.end, org: r.org, project: r.project } });
    if (q.price == null) return t('res.approveFree');
    return [t('res.approveCharges', { points: fmtPoints(q.price) }), ' ', raw(q.project),
      q.enough ? '' : [' ', h('span', { class: 'warn' }, t('res.approveShort', { points: fmtPoints(q.available) }))]];
  } catch {
    return t('res.approveCharge');
  }
}

export async function reservationsPage(main, ctx) {
  const role = ctx.me.role;
  const operator = role === 'operator';
  const requester = operator || role === 'org-admin';
  const list = h('div', { id: 'reservations', class: 'table-scroll' });
  const message = h('div', { id: 'res-message', class: 'inline-msg' });
  main.append(h('div', { class: 'page-head' }, h('h1', {}, t('res.title'))),
    h('p', { class: 'muted' }, t(operator ? 'res.scope.operator' : requester ? 'res.scope.admin' : 'res.scope.member')),
    message);
  const stack = h('div', { class: 'stack' }, list);
  main.append(stack);

  if (requester) stack.append(await requestForm());

  // The row whose confirmation step is open ({id, action}); the poll does not redraw while one is.
  let confirming = null;
  let rows = [], digits = 2;

  async function act(r, action, body) {
    message.replaceChildren();
    try {
      await api(`/reservations/${r.id}/${action}`, { method: 'POST', body: body ?? {} });
      confirming = null;
    } catch (err) {
      confirming = null;
      message.append(h('span', { 'data-for': r.id }, errorLine(err)));
    }
    await refresh();
  }

  function confirmText(r) {
    if (r.state === 'requested') return t('res.cancelRequested');
    if (r.refundable_until != null && now() <= r.refundable_until) {
      return t('res.cancelRefund', { until: fmtTime(r.refundable_until) });
    }
    return t('res.cancelLate');
  }

  function actions(r) {
    const cell = h('td', { class: 'actions-cell' });
    if (confirming && confirming.id === r.id) {
      const no = h('button', { type: 'button', class: 'secondary', 'data-confirm': 'no', onclick: () => { confirming = null; draw(); } },
        t('res.no'));
      if (confirming.action === 'approve') {
        cell.append(h('div', { class: 'confirm', 'data-confirm-text': 'approve' }, t('res.approveConfirm'), ' ',
          confirming.question ?? t('res.pricing')),
        h('button', { type: 'button', 'data-confirm': 'yes', onclick: () => act(r, 'approve') }, t('res.approveYes')), ' ', no);
      } else if (confirming.action === 'cancel') {
        cell.append(h('div', { class: 'confirm', 'data-confirm-text': 'cancel' }, t('res.cancelConfirm'), ' ', confirmText(r)),
          h('button', { type: 'button', class: 'danger', 'data-confirm': 'yes', onclick: () => act(r, 'cancel') }, t('res.cancelYes')),
          ' ', no);
      } else {
        const note = h('input', { 'data-reject-note': '', placeholder: t('res.rejectNote') });
        cell.append(h('div', { class: 'confirm', 'data-confirm-text': 'reject' }, t('res.rejectConfirm')), note, ' ',
          h('button', { type: 'button', class: 'danger', 'data-confirm': 'yes', onclick: () => act(r, 'reject', { note: note.value }) },
            t('res.rejectYes')), ' ', no);
      }
      return cell;
    }
    if (operator && r.state === 'requested') {
      cell.append(h('button', { type: 'button', 'data-action': 'approve', onclick: async () => {
        const asking = { id: r.id, action: 'approve', question: null };
        confirming = asking;
        draw();
        asking.question = await approveQuestion(r, ctx.signal);
        if (confirming === asking) draw();
      } }, t('res.approve')), ' ',
        h('button', { type: 'button', class: 'secondary', 'data-action': 'reject',
          onclick: () => { confirming = { id: r.id, action: 'reject' }; draw(); } }, t('res.reject')), ' ');
    }
    if (CANCELLABLE.has(r.state) && r.end > now() && (operator || (role === 'org-admin' && r.org === ctx.me.org))) {
      cell.append(h('button', { type: 'button', class: 'secondary', 'data-action': 'cancel',
        onclick: () => { confirming = { id: r.id, action: 'cancel' }; draw(); } }, t('res.cancel')));
    }
    return cell;
  }

  function row(r) {
    return h('tr', { 'data-res-row': r.id, 'data-state': r.state },
      h('td', { class: 'num' }, `#${r.id}`),
      h('td', { class: 'wrap name' }, raw(r.name, 'strong'), r.note ? h('div', { class: 'muted small note' }, raw(r.note)) : null),
      h('td', { class: 'wrap' }, raw(r.org), h('div', { class: 'muted small' }, raw(r.project))),
      h('td', { class: 'wrap', 'data-col': 'shape' }, raw(r.gpu_type), ' × ', r.nodes === 1 ? t('res.node1') : t('res.nodesN', { n: fmtNumber(r.nodes) })),
      h('td', { class: 'wrap', 'data-col': 'window', 'data-start': String(r.start), 'data-end': String(r.end) },
        t('map.window', { start: fmtTime(r.start), end: fmtTime(r.end) }),
        h('div', { class: 'muted small' }, fmtDuration(r.end - r.start))),
      h('td', { 'data-col': 'state' }, reservationState(r.state)),
      points(r.price, 'price', digits), points(r.refunded, 'refunded', digits),
      h('td', { class: 'wrap nodes', 'data-col': 'nodes' }, r.node_names && r.node_names.length ? raw(r.node_names.join(', ')) : '—'),
      actions(r));
  }

  function draw() {
    digits = pointsDigits(rows.flatMap((r) => [r.price, r.refunded]));
    list.replaceChildren(table(['res.id', 'res.name', 'res.orgProject', 'res.shape', 'res.window', 'res.state', 'res.price',
      'res.refunded', 'res.nodes', ''], rows.length ? rows.map(row) : [emptyRow(10, 'res.empty')], { id: 'reservations-table' }));
  }

  async function refresh() {
    rows = await api('/reservations', { signal: ctx.signal });
    if (!confirming || !rows.some((r) => r.id === confirming.id)) { confirming = null; draw(); }
  }

  async function requestForm() {
    const [types, orgs] = await Promise.all([gpuTypes(ctx.signal),
      operator ? api('/orgs', { signal: ctx.signal }) : Promise.resolve([])]);
    const org = h('select', { id: 'res-org' }, ...orgs.map((o) => raw(o.name, 'option', { value: o.name })));
    const gpuType = h('select', { id: 'res-gpu-type' }, ...types.map((g) => raw(g.name, 'option', { value: g.name })));
    const nodes = h('input', { id: 'res-nodes', type: 'number', min: '1', step: '1', value: '1' });
    const next = Math.ceil(now() / 3600) * 3600 + 3600;
    const start = h('input', { id: 'res-start', type: 'datetime-local', step: '1', value: isoLocal(next) });
    const end = h('input', { id: 'res-end', type: 'datetime-local', step: '1', value: isoLocal(next + 3 * 3600) });
    const name = h('input', { id: 'res-name', autocomplete: 'off' });
    const project = h('input', { id: 'res-project', placeholder: t('res.projectDefault') });
    const note = h('input', { id: 'res-note' });
    const capacity = h('span', { id: 'res-capacity', class: 'muted' });
    const check = h('button', { type: 'button', class: 'secondary', id: 'res-check' }, t('res.checkCapacity'));
    const el = h('form', { class: 'card form', id: 'res-form', novalidate: true },
      h('h2', {}, t('res.request')),
      h('div', { class: 'form-fields' }, operator ? field('res.org', 'org', org) : null, field('res.gpuType', 'gpu_type', gpuType),
        field('res.nodesField', 'nodes', nodes), field('res.start', 'start', start), field('res.end', 'end', end)),
      h('div', { class: 'form-tools' }, check, capacity),
      h('div', { class: 'preview', id: 'res-price', 'aria-live': 'polite' }),
      h('div', { class: 'form-fields' }, field('res.name', 'name', name), field('res.project', 'project', project),
        field('res.note', 'note', note)),
      h('p', { class: 'muted small' }, t('res.help')),
      h('button', { type: 'submit' }, t('res.submit')), h('div', { class: 'form-error error' }), h('div', { class: 'form-result' }));

    check.addEventListener('click', async () => {
      clearFormErrors(el);
      capacity.replaceChildren();
      delete capacity.dataset.free;
      const q = new URLSearchParams({ start: localToIso(start.value) ?? '', end: localToIso(end.value) ?? '', gpu_type: gpuType.value });
      try {
        const [cap] = await api(`/reservations/capacity?${q}`, { signal: ctx.signal });
        if (!cap) return;
        Object.assign(capacity.dataset, { free: String(cap.free), total: String(cap.nodes) });
        capacity.append(t('res.capacityResult', { free: fmtNumber(cap.free), total: fmtNumber(cap.nodes), per: cap.node_gpus }),
          ' ', raw(cap.gpu_type));
      } catch (err) { showFormError(el, err); }
    });

    const body = () => {
      const b = { gpu_type: gpuType.value, nodes: nodes.value.trim() === '' ? null : Number(nodes.value),
        start: localToIso(start.value), end: localToIso(end.value), name: name.value.trim(), note: note.value };
      if (operator) b.org = org.value || null;
      if (project.value.trim()) b.project = project.value.trim();
      return b;
    };
    // the price preview: what approving the request would charge now, and whether the project could pay it
    const price = el.querySelector('#res-price');
    let seq = 0, timer = null;
    const preview = async () => {
      const mine = ++seq;
      try {
        const q = await api('/quotes/reservation', { method: 'POST', body: body(), signal: ctx.signal });
        if (mine !== seq) return;
        price.dataset.price = q.price ?? '';
        price.replaceChildren(q.price == null ? t('res.free') : h('span', {}, t('res.priceIs', { points: fmtPoints(q.price),
          gpus: fmtNumber(q.gpus), duration: fmtDuration(q.seconds) }), ' ',
        ...tParts('submit.available', { project: raw(q.project), points: fmtPoints(q.available) }),
        q.enough ? '' : [' ', h('span', { class: 'warn', 'data-short': '' }, t('res.cannotPay'))]));
      } catch (err) {
        if (mine !== seq || err instanceof DOMException) return;
        delete price.dataset.price;
        price.replaceChildren(h('span', { class: 'muted' }, t('res.priceUnknown')), ' ', errorLine(err));
      }
    };
    for (const input of [org, gpuType, nodes, start, end, project]) {
      input.addEventListener('change', () => { clearTimeout(timer); timer = setTimeout(preview, 200); });
    }
    preview();

    el.addEventListener('submit', async (ev) => {
      ev.preventDefault();
      clearFormErrors(el);
      const result = el.querySelector('.form-result');
      result.replaceChildren();
      try {
        const r = await api('/reservations', { method: 'POST', body: body() });
        result.append(h('span', { class: 'ok', id: 'res-done', 'data-id': r.id }, t('res.requested', { id: r.id }), ' ',
          raw(r.name), ' · ', reservationState(r.state)));
        name.value = '';
        note.value = '';
        await refresh();
      } catch (err) { showFormError(el, err); }
    });
    return el;
  }

  ctx.poll(refresh, 5000);
}
