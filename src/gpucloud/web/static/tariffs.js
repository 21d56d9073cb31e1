// Tariffs: the versions, newest first, the one in force marked (points per GPU-hour per GPU type, service-class and
// priority multipliers, minimum billed time and increment); operators load a new version from YAML or JSON.
import { ApiError, api } from './api.js';
import { h, raw } from './dom.js';
import { fmtDuration, fmtNumber, fmtPoints, fmtTime, pointsDigits, t, tMaybe } from './i18n.js';
import { emptyRow, form, table } from './common.js';

const now = () => Date.now() / 1000;
const PRICE_MAPS = ['points_per_gpu_hour', 'service_classes', 'priority_classes'];

/** The text of the textarea (JSON, or YAML read by the vendored js-yaml) as the POST /tariffs body. */
async function parseTariffs(text) {
  let data;
  try {
    data = JSON.parse(text);
  } catch {
    const yaml = await import('./vendor/js-yaml.js');
    data = yaml.load(text);
  }
  if (Array.isArray(data)) data = { tariffs: data };
  else if (data && typeof data === 'object' && !('tariffs' in data) && 'name' in data) data = { tariffs: [data] };
  // Prices go as decimal strings: a number's shortest form (0.9375, 0.1) is exactly what was typed.
  if (data && Array.isArray(data.tariffs)) {
    for (const tv of data.tariffs) {
      if (!tv || typeof tv !== 'object') continue;
      for (const key of PRICE_MAPS) {
        const m = tv[key];
        if (m && typeof m === 'object') for (const k of Object.keys(m)) if (typeof m[k] === 'number') m[k] = String(m[k]);
      }
    }
  }
  return data;
}

function exampleTariff(gpuTypes) {
  const d = new Date(Date.now() + 86400000);
  const day = d.toISOString().slice(0, 10);
  return ['tariffs:', `  - name: tariff-${day}`, `    valid_from: ${day}`, '    minimum_seconds: 60',
    '    increment_seconds: 1', '    points_per_gpu_hour:', ...gpuTypes.map((g) => `      ${g}: 2.0`),
    '    service_classes: {standard: 1.0, preemptible: 0.5}', '    priority_classes: {high: 1.5}', ''].join('\n');
}

function multipliers(map, kind) {
  const keys = Object.keys(map || {});
  if (!keys.length) return '—';
  return h('ul', { class: 'plain' }, ...keys.map((k) => h('li', {},
    kind === 'priority' ? (tMaybe(`priority.${k}`) ?? raw(k)) : raw(k), ' ', h('span', { class: 'mult' }, `× ${fmtNumber(Number(map[k]), 4, 0)}`))));
}

export async function tariffsPage(main, ctx) {
  const operator = ctx.me.role === 'operator';
  const list = h('div', { id: 'tariffs' });
  main.append(h('div', { class: 'page-head' }, h('h1', {}, t('tariffs.title'))),
    h('p', { class: 'muted' }, t(operator ? 'tariffs.help' : 'tariffs.readOnly')));
  const cols = h('div', { class: 'stack' }, list);  // the table is wide: the form goes under it
  main.append(cols);

  if (operator) {
    const text = h('textarea', { id: 'tariff-text', rows: 16, spellcheck: 'false', placeholder: t('tariffs.placeholder') });
    const slot = h('div', { class: 'field', 'data-field': 'tariffs' }, h('label', { for: 'tariff-text' }, t('tariffs.text')), text,
      h('div', { class: 'field-error', 'data-error-for': 'tariffs' }));
    const example = h('button', { type: 'button', class: 'secondary', id: 'tariff-example' }, t('tariffs.example'));
    example.addEventListener('click', async () => {
      const cluster = await api('/cluster', { signal: ctx.signal });
      text.value = exampleTariff(cluster.gpu_types.map((g) => g.name));
    });
    const loadForm = form('tariff-form', 'tariffs.load', [slot], 'tariffs.loadSubmit', async (el) => {
      let body;
      try {
        body = await parseTariffs(text.value);
      } catch (err) {
        el.querySelector('[data-error-for=tariffs]').append(t('tariffs.parseError'), ' ', raw(String(err.message || err)));
        slot.classList.add('invalid');
        return;
      }
      try {
        const res = await api('/tariffs', { method: 'POST', body });
        el.querySelector('.form-result').append(res.added.length
          ? h('span', { class: 'ok', id: 'tariff-loaded' }, t('tariffs.loaded'), ' ', raw(res.added.join(', ')))
          : h('span', { class: 'muted', id: 'tariff-loaded', 'data-nothing-new': '' }, t('tariffs.nothingNew')));
        await refresh();
      } catch (err) {
        if (err instanceof ApiError && err.fields) {
          // The whole document is one field here: each 422 goes under the text with the path it names.
          const out = el.querySelector('[data-error-for=tariffs]');
          for (const fe of err.fields) out.append(h('div', { 'data-error-path': fe.field }, raw(`${fe.field}: ${fe.message}`)));
          slot.classList.add('invalid');
        } else throw err;
      }
    }, h('div', { class: 'form-tools' }, example, h('span', { class: 'muted small' }, t('tariffs.formats'))));
    cols.append(loadForm);
  }

  async function refresh() {
    const { tariffs } = await api('/tariffs', { signal: ctx.signal });
    const digits = pointsDigits(tariffs.flatMap((tv) => Object.values(tv.points_per_gpu_hour)));
    const inForce = tariffs.filter((tv) => tv.valid_from <= now()).sort((a, b) => b.valid_from - a.valid_from)[0];
    const rows = [...tariffs].sort((a, b) => b.valid_from - a.valid_from).map((tv) => h('tr', { 'data-tariff-row': tv.name },
      h('td', {}, raw(tv.name, 'strong'), tv.description ? h('div', { class: 'muted small' }, raw(tv.description)) : null),
      h('td', {}, fmtTime(tv.valid_from), ' ', tv === inForce ? h('span', { class: 'badge state-running', 'data-in-force': '' }, t('tariffs.inForce'))
        : tv.valid_from > now() ? h('span', { class: 'badge state-pending' }, t('tariffs.future')) : null),
      h('td', { 'data-col': 'prices' }, h('ul', { class: 'plain' }, ...Object.entries(tv.points_per_gpu_hour).map(([g, p]) =>
        h('li', {}, raw(g), ' ', h('strong', { 'data-price': g }, fmtPoints(p, digits)))))),
      h('td', {}, multipliers(tv.service_classes, 'service')),
      h('td', {}, multipliers(tv.priority_classes, 'priority')),
      h('td', {}, tv.minimum_seconds ? fmtDuration(tv.minimum_seconds) : t('tariffs.noMinimum'),
        h('div', { class: 'muted small' }, tv.increment_seconds ? t('tariffs.increment', { time: fmtDuration(tv.increment_seconds) })
          : t('tariffs.exact')))));
    list.replaceChildren(table(['tariffs.name', 'tariffs.validFrom', 'tariffs.prices', 'tariffs.service', 'tariffs.priority',
      'tariffs.minimum'], rows.length ? rows : [emptyRow(6, 'tariffs.empty')]));
  }
  await refresh();
}
