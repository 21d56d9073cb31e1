// A small stacked bar chart in inline SVG (no chart library): one bar per bucket, one coloured segment per
// series, a y axis with round ticks, x labels thinned to fit, and a legend with each series' total.
// Every segment is a <rect data-bar> with data-series, data-bucket and data-value, and a <title> for hovering.
import { ORG_PALETTE as PALETTE } from './colours.js';
import { h, raw } from './dom.js';
import { fmtNumber } from './i18n.js';

const NS = 'http://www.w3.org/2000/svg';

function s(tag, attrs = {}, ...children) {
  const el = document.createElementNS(NS, tag);
  for (const [k, v] of Object.entries(attrs)) if (v !== undefined && v !== null) el.setAttribute(k, String(v));
  for (const c of children) if (c !== null && c !== undefined) el.append(c);
  return el;
}

/** Round tick values from 0 to at least `max` (about `count` steps of 1, 2 or 5 × 10^k). */
export function niceTicks(max, count = 4) {
  if (!(max > 0)) return [0, 1];
  const raw0 = max / count;
  const mag = 10 ** Math.floor(Math.log10(raw0));
  const step = [1, 2, 2.5, 5, 10].map((m) => m * mag).find((st) => st >= raw0);
  const ticks = [];
  for (let v = 0; v < max + step * 1e-9; v += step) ticks.push(Number(v.toPrecision(12)));
  if (ticks[ticks.length - 1] < max) ticks.push(Number((ticks[ticks.length - 1] + step).toPrecision(12)));
  return ticks;
}

/**
 * buckets: [{key, label}] in order; series: [{key, name, values: Map(bucketKey → number)}];
 * fmt: number → text (values, totals and the axis); unit: text after values in the hover titles.
 */
export function stackedBars({ id, buckets, series, fmt = (v) => fmtNumber(v, 2), unit = '', emptyText = '' }) {
  const W = 600, H = 230, left = 56, right = 10, top = 12, bottom = 30;
  const plotW = W - left - right, plotH = H - top - bottom;
  const totals = buckets.map((b) => series.reduce((acc, se) => acc + (se.values.get(b.key) || 0), 0));
  const ticks = niceTicks(Math.max(0, ...totals));
  const yMax = ticks[ticks.length - 1] || 1;
  const y = (v) => top + plotH - (v / yMax) * plotH;
  const slot = plotW / Math.max(1, buckets.length);
  const barW = Math.max(1, Math.min(48, slot * 0.72));
  const svg = s('svg', { viewBox: `0 0 ${W} ${H}`, class: 'chart-svg', role: 'img', 'data-buckets': buckets.length });
  const axis = s('g', { class: 'axis' });
  for (const tv of ticks) {
    axis.append(s('line', { x1: left, x2: W - right, y1: y(tv), y2: y(tv), class: tv === 0 ? 'base' : 'grid' }),
      s('text', { x: left - 6, y: y(tv) + 4, 'text-anchor': 'end' }, fmt(tv)));
  }
  const every = Math.max(1, Math.ceil(buckets.length / Math.floor(plotW / 48)));
  buckets.forEach((b, i) => {
    if (i % every) return;
    axis.append(s('text', { x: left + slot * (i + 0.5), y: H - bottom + 16, 'text-anchor': 'middle' }, b.label));
  });
  svg.append(axis);
  const bars = s('g', { class: 'bars' });
  let count = 0;
  buckets.forEach((b, i) => {
    let base = 0;
    const x = left + slot * (i + 0.5) - barW / 2;
    series.forEach((se, k) => {
      const v = se.values.get(b.key) || 0;
      if (!(v > 0)) return;
      const y0 = y(base), y1 = y(base + v);
      base += v;
      count++;
      bars.append(s('rect', {
        x: x.toFixed(2), y: y1.toFixed(2), width: barW.toFixed(2), height: Math.max(0.5, y0 - y1).toFixed(2),
        fill: se.colour || PALETTE[k % PALETTE.length], 'data-bar': '', 'data-series': se.key, 'data-bucket': b.key,
        'data-value': String(v),
      }, s('title', {}, `${se.name} · ${b.label}: ${fmt(v)} ${unit}`.trim())));
    });
  });
  svg.append(bars);
  svg.dataset.bars = String(count);
  const legend = h('ul', { class: 'legend chart-legend' }, ...series.map((se, k) => {
    let total = 0;
    for (const v of se.values.values()) total += v;
    return h('li', { 'data-series': se.key },
      h('span', { class: 'swatch', style: `background:${se.colour || PALETTE[k % PALETTE.length]}` }),
      raw(se.name), ' ', h('span', { class: 'count' }, fmt(total)));
  }));
  return h('figure', { class: 'chart', id, 'data-bars': count },
    count ? null : h('p', { class: 'muted chart-empty' }, emptyText), svg, series.length ? legend : null);
}
