// Submit a job from the browser: the form (command line, shape, GPU type, walltime, project, priority, service
// class, reservation, environment), a live price preview (POST /quotes/job: what the project would hold, on
// each GPU type the job could get, and the subsidy) and when it would start (POST /quotes/start, forecast.js),
// the same job as a `gpucloud submit` command to copy, and resubmission of an earlier job (`#/submit?from=ID`
// fills the form in from it).
import { ApiError, api } from './api.js';
import { h, raw } from './dom.js';
import { fmtDuration, fmtNumber, fmtPoints, pointsDigits, t, tn, tParts } from './i18n.js';
import { clearFormErrors, copyButton, errorLine, field, showFormError } from './common.js';
import { cliCommand, durationSpec } from './cli.js';
import { fillTypes } from './gputypes.js';
import { quoteArgv, splitCommand } from './shell.js';
import { startIn } from './forecast.js';

const PRIORITIES = ['low', 'normal', 'high', 'urgent'];
const SERVICE_CLASSES = ['standard', 'interactive', 'preemptible'];
const newKey = () => `web-${crypto.getRandomValues(new Uint32Array(4)).join('-')}`;

/** A bad field found before asking the server, shown like the server's 422. */
class FieldProblem extends Error {
  constructor(fieldName, key) { super(key); this.field = fieldName; }
}

function parseEnv(text) {
  const env = {};
  for (const line of text.split('\n')) {
    if (!line.trim()) continue;
    const at = line.indexOf('=');
    if (at <= 0) throw new FieldProblem('env', 'submit.envLine');
    env[line.slice(0, at).trim()] = line.slice(at + 1);
  }
  return env;
}

export async function submitPage(main, ctx) {
  const operator = ctx.me.role === 'operator';
  const orgs = operator ? await api('/orgs', { signal: ctx.signal }) : [{ name: ctx.me.org }];
  const el = {
    org: h('select', { id: 'submit-org' }, ...orgs.map((o) => raw(o.name, 'option', { value: o.name }))),
    project: h('select', { id: 'submit-project' }),
    name: h('input', { id: 'submit-name', autocomplete: 'off' }),
    argv: h('textarea', { id: 'submit-command', rows: 2, spellcheck: 'false', placeholder: 'python train.py --epochs 10', 'data-raw': '' }),
    num_gpus: h('input', { id: 'submit-gpus', type: 'number', min: '1', step: '1', value: '1' }),
    nodes: h('input', { id: 'submit-nodes', type: 'number', min: '1', step: '1', placeholder: t('submit.nodesAuto') }),
    gpu_type: h('select', { id: 'submit-gpu-type' }, h('option', { value: '' }, t('shape.anyType'))),
    walltime: h('input', { id: 'submit-walltime', value: '1h', autocomplete: 'off' }),
    priority: h('select', { id: 'submit-priority' }, ...PRIORITIES.map((p) => h('option', { value: p }, t(`priority.${p}`)))),
    service_class: h('select', { id: 'submit-service-class' }, ...SERVICE_CLASSES.map((c) => h('option', { value: c }, t(`service.${c}`)))),
    preemptible: h('input', { id: 'submit-preemptible', type: 'checkbox', checked: true }),
    grace: h('input', { id: 'submit-grace', value: '10s', autocomplete: 'off' }),
    reservation: h('select', { id: 'submit-reservation' }, h('option', { value: '' }, t('submit.noReservation'))),
    env: h('textarea', { id: 'submit-env', rows: 2, spellcheck: 'false', placeholder: 'SEED=1', 'data-raw': '' }),
    cwd: h('input', { id: 'submit-cwd', autocomplete: 'off', placeholder: t('submit.cwdDefault') }),
  };
  el.priority.value = 'normal';
  const argvNote = h('div', { class: 'muted small', id: 'submit-argv-note' });
  const preview = h('div', { id: 'price-preview', class: 'preview', 'aria-live': 'polite' });
  const startLine = h('p', { id: 'start-preview', 'aria-live': 'polite' });  // when it would start (forecast.js)
  const cli = h('pre', { id: 'cli-command', class: 'cli-line', 'data-raw': '' });
  const form = h('form', { class: 'card form', id: 'submit-form', novalidate: true },
    h('div', { class: 'form-grid' },
      operator ? field('submit.org', 'org', el.org) : null, field('submit.project', 'project', el.project),
      field('submit.name', 'name', el.name)),
    h('div', { class: 'field wide', 'data-field': 'argv' }, h('label', { for: el.argv.id }, t('submit.command')), el.argv,
      argvNote, h('div', { class: 'field-error', 'data-error-for': 'argv' })),
    h('div', { class: 'form-grid' },
      field('submit.gpus', 'num_gpus', el.num_gpus), field('submit.nodes', 'nodes', el.nodes),
      field('submit.gpuType', 'gpu_type', el.gpu_type), field('submit.walltime', 'walltime', el.walltime, tParts('submit.durationHelp', { examples: raw('90s, 30m, 1h30m, 2d', 'code') })),
      field('submit.priority', 'priority', el.priority), field('submit.serviceClass', 'service_class', el.service_class),
      field('submit.reservation', 'reservation', el.reservation), field('submit.grace', 'grace', el.grace),
      h('div', { class: 'field check', 'data-field': 'preemptible' }, h('label', {}, el.preemptible, ' ', t('submit.preemptible')),
        h('div', { class: 'field-error', 'data-error-for': 'preemptible' }))),
    h('details', { class: 'more-fields' }, h('summary', {}, t('submit.more')),
      h('div', { class: 'form-grid' }, field('submit.env', 'env', el.env, t('submit.envHelp')), field('submit.cwd', 'cwd', el.cwd))),
    h('div', { class: 'form-actions' }, h('button', { type: 'submit', id: 'submit-go' }, t('submit.go')),
      h('div', { class: 'form-error error' })));
  main.append(h('div', { class: 'page-head' }, h('h1', {}, t('submit.title'))),
    h('div', { class: 'cols' }, form, h('div', {},
      h('section', { class: 'card', id: 'price-card' }, h('h2', {}, t('submit.price')), preview,
        h('p', { class: 'muted small' }, t('submit.priceHelp')), startLine),
      h('section', { class: 'card', id: 'cli-card' }, h('h2', {}, t('submit.cli')), cli, copyButton(() => cli.textContent, { id: 'copy-cli' }),
        h('p', { class: 'muted small' }, t('submit.cliHelp'))))));
  fillTypes(el.gpu_type, ctx.signal);
  let key = newKey();

  async function loadChoices() {
    const org = el.org.value;
    const keepProject = el.project.value, keepRes = el.reservation.value;
    const [projects, reservations] = await Promise.all([
      api(`/orgs/${encodeURIComponent(org)}/projects`, { signal: ctx.signal }),
      api('/reservations', { signal: ctx.signal })]);
    el.project.replaceChildren(...projects.map((p) => raw(p.name, 'option', { value: p.name })));
    el.project.value = projects.some((p) => p.name === keepProject) ? keepProject : 'default';
    const open = reservations.filter((r) => r.org === org && ['approved', 'active'].includes(r.state));
    el.reservation.replaceChildren(h('option', { value: '' }, t('submit.noReservation')),
      ...open.map((r) => raw(`${r.name} (${r.gpu_type} × ${r.nodes})`, 'option', { value: r.name })));
    el.reservation.value = open.some((r) => r.name === keepRes) ? keepRes : '';
  }

  /** The form as the API's submission ({argv, ...}); FieldProblem for a command or environment it cannot read. */
  function values() {
    let argv;
    try { argv = splitCommand(el.argv.value); } catch (err) { throw new FieldProblem('argv', err.message); }
    const num = (input) => (input.value.trim() === '' ? null : Number(input.value));
    const body = {
      argv, name: el.name.value.trim(), num_gpus: num(el.num_gpus), nodes: num(el.nodes), gpu_type: el.gpu_type.value || null,
      walltime: el.walltime.value.trim() || '1h', priority: el.priority.value, preemptible: el.preemptible.checked,
      grace: el.grace.value.trim() || '10s', project: el.project.value || null, service_class: el.service_class.value,
      reservation: el.reservation.value || null, env: parseEnv(el.env.value), cwd: el.cwd.value.trim(),
    };
    if (operator) body.org = el.org.value;
    return body;
  }

  const problem = (err) => showFormError(form, new ApiError(422, [{ field: err.field, message: t(err.message) }]));
  let previewTimer = null, previewSeq = 0;

  function update() {
    let body;
    try { body = values(); } catch (err) {
      if (!(err instanceof FieldProblem)) throw err;
      problem(err);
      argvNote.textContent = '';
      return;
    }
    clearFormErrors(form);
    argvNote.textContent = body.argv.length ? tn('submit.args', body.argv.length) : '';
    cli.textContent = cliCommand({ ...body, walltime_s: seconds(body.walltime), grace_s: seconds(body.grace) }, { withOrg: operator });
    clearTimeout(previewTimer);
    previewTimer = setTimeout(() => price(body), 250);
  }

  async function price(body) {
    const mine = ++previewSeq;
    const quoteBody = { num_gpus: body.num_gpus ?? 1, nodes: body.nodes, gpu_type: body.gpu_type, walltime: body.walltime,
      priority: body.priority, preemptible: body.preemptible, project: body.project, service_class: body.service_class,
      reservation: body.reservation };
    if (operator) quoteBody.org = body.org;
    startPreview(quoteBody, mine);
    try {
      const q = await api('/quotes/job', { method: 'POST', body: quoteBody, signal: ctx.signal });
      if (mine !== previewSeq) return;
      drawQuote(q);
    } catch (err) {
      if (mine !== previewSeq || err instanceof DOMException) return;
      if (err.fields) showFormError(form, err);
      preview.replaceChildren(h('p', { class: 'muted', 'data-quote': 'invalid' }, t('submit.priceInvalid')));
    }
  }

  async function startPreview(quoteBody, mine) {
    try {
      const f = await api('/quotes/start', { method: 'POST', body: quoteBody, signal: ctx.signal });
      if (mine !== previewSeq) return;
      startLine.dataset.start = f.start ?? '';
      startLine.replaceChildren(t('submit.wouldStart', { when: startIn(f.start) }), ' ',
        h('span', { class: 'muted small' }, t('submit.expectedRun', { d: fmtDuration(f.run_time_s) })));
    } catch (err) {
      if (mine === previewSeq && !(err instanceof DOMException)) { startLine.dataset.start = ''; startLine.replaceChildren(); }
    }
  }

  function drawQuote(q) {
    preview.dataset.quote = q.tariff == null ? 'free' : q.reserved ? 'reserved' : 'priced';
    if (q.tariff == null) { preview.replaceChildren(h('p', {}, t('submit.free'))); return; }
    if (q.reserved) { preview.replaceChildren(h('p', {}, t('submit.paidByReservation'))); return; }
    const digits = pointsDigits(q.options.flatMap((o) => [o.hold, o.subsidy, o.project_pays]).concat([q.available]));
    const pts = (v) => fmtPoints(v, digits);
    preview.replaceChildren(
      h('p', { class: 'muted small' }, t('submit.tariff'), ' ', raw(q.tariff), ' · ',
        ...tParts('submit.available', { project: raw(q.project), points: pts(q.available) })),
      h('ul', { class: 'plain quote' }, ...q.options.map((o) => h('li', { 'data-gpu-type': o.gpu_type, 'data-hold': o.hold ?? '',
        'data-subsidy': o.subsidy, 'data-enough': String(o.enough) },
      h('strong', {}, raw(o.gpu_type)), ' · ', t(`service.${o.service_class}`),
      o.error ? h('div', { class: 'error small' }, t('submit.unpriced'), ' ', raw(o.error))
        : [h('div', { class: 'price' }, t('submit.hold', { points: pts(o.hold) }), ' ',
          h('span', { class: 'muted small' }, t('submit.rate', { rate: fmtNumber(Number(o.rate), 4, 0) }))),
        Number(o.subsidy) > 0 ? h('div', { class: 'small' }, t('submit.subsidy', { points: pts(o.subsidy) }), ' ', raw(o.programme),
          ' · ', t('submit.projectPays', { points: pts(o.project_pays) })) : null,
        o.enough ? null : h('div', { class: 'warn small', 'data-short': '' }, t('submit.notEnough'))]))));
  }

  form.addEventListener('input', update);
  form.addEventListener('change', update);
  el.org.addEventListener('change', () => loadChoices().then(update, () => {}));
  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    let body;
    try { body = values(); } catch (err) { if (err instanceof FieldProblem) { problem(err); return; } throw err; }
    if (!body.argv.length) { problem(new FieldProblem('argv', 'submit.noCommand')); return; }
    const button = form.querySelector('#submit-go');
    button.disabled = true;
    try {
      const job = await api('/jobs', { method: 'POST', body: { ...body, idempotency_key: key } });
      key = newKey();
      ctx.navigate(`#/jobs/${job.id}`);
    } catch (err) {
      showFormError(form, err);
    } finally { button.disabled = false; }
  });

  await loadChoices();
  const from = ctx.params.get('from');
  if (from) {
    try { await fillFrom(await api(`/jobs/${encodeURIComponent(from)}`, { signal: ctx.signal })); } catch (err) {
      form.querySelector('.form-error').append(errorLine(err));
    }
  }
  update();

  async function fillFrom(job) {
    if (operator) { el.org.value = job.org; await loadChoices(); }
    el.project.value = job.project;
    el.name.value = job.name;
    el.argv.value = quoteArgv(job.argv);
    el.num_gpus.value = String(job.num_gpus);
    el.nodes.value = job.nodes ? String(job.nodes) : '';
    el.gpu_type.value = job.gpu_type || '';
    if (job.gpu_type && el.gpu_type.value !== job.gpu_type) el.gpu_type.append(new Option(job.gpu_type, job.gpu_type, true, true));
    el.walltime.value = durationSpec(job.walltime_s);
    el.priority.value = job.priority;
    el.service_class.value = SERVICE_CLASSES.includes(job.service_class) ? job.service_class : 'standard';
    el.preemptible.checked = job.preemptible;
    el.grace.value = durationSpec(job.grace_s);
    el.env.value = Object.entries(job.env || {}).map(([k, v]) => `${k}=${v}`).join('\n');
    el.cwd.value = job.cwd || '';
    form.dataset.from = String(job.id);
  }
}

/** "1h30m" → 5400 for the CLI preview (the server reads the real thing); unreadable: as written. */
function seconds(text) {
  const s = String(text).trim();
  if (/^\d+(\.\d+)?$/.test(s)) return Number(s);
  const m = /^(?:(\d+)d)?(?:(\d+)h)?(?:(\d+)m)?(?:(\d+)s)?$/.exec(s);
  if (!m || !s) return s;
  return (Number(m[1] || 0) * 86400) + (Number(m[2] || 0) * 3600) + (Number(m[3] || 0) * 60) + Number(m[4] || 0);
}
