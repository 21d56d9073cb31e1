// Utilisation per block under the map: GPUs, busy, idle, reserved, down, and the busy share as a bar.
import { h, raw } from './dom.js';
import { fmtNumber, t } from './i18n.js';
import { table } from './common.js';
import { gpuStatus } from './map-layout.js';

export function blockCounts(cluster) {
  return cluster.blocks.map((b) => {
    const c = { name: b.name, total: 0, busy: 0, idle: 0, reserved: 0, down: 0 };
    for (const r of b.racks) for (const n of r.nodes) for (const g of n.gpus) {
      const st = gpuStatus(n, g);
      c.total++;
      if (st === 'job' || st === 'hidden' || st === 'draining') c.busy++;
      else if (st === 'reserved') c.reserved++;
      else if (st === 'down') c.down++;
      else c.idle++;
    }
    return c;
  });
}

export function blockTable(cluster) {
  const rows = blockCounts(cluster).map((c) => {
    const share = c.total ? c.busy / c.total : 0;
    return h('tr', { 'data-block': c.name, 'data-busy': c.busy, 'data-total': c.total },
      h('td', {}, raw(c.name)), h('td', { class: 'num' }, fmtNumber(c.total)), h('td', { class: 'num' }, fmtNumber(c.busy)),
      h('td', { class: 'num' }, fmtNumber(c.idle)), h('td', { class: 'num' }, fmtNumber(c.reserved)),
      h('td', { class: 'num' }, fmtNumber(c.down)),
      h('td', { class: 'barcell' }, h('div', { class: 'meter', role: 'meter', 'aria-valuemin': '0', 'aria-valuemax': '100',
        'aria-valuenow': String(Math.round(share * 100)), 'aria-label': t('blocks.utilisation') },
      h('div', { class: 'meter-fill', style: `width:${(share * 100).toFixed(1)}%` })),
      h('span', { class: 'pct' }, `${fmtNumber(share * 100, 1, 1)}%`)));
  });
  return table(['blocks.block', 'blocks.gpus', 'blocks.busy', 'blocks.idle', 'blocks.reserved', 'blocks.down', 'blocks.utilisation'],
    rows, { id: 'blocks-table' });
}
