// The cluster map: every GPU one cell on a single <canvas>, grouped block → rack → node, coloured by the org
// of the job holding it; reserved and down nodes drawn apart. Polls GET /api/v1/cluster every 2.5 s; job → org
// comes from the job lists (cached, a job's org never changes). Drawing is one pass of fillRect calls batched by
// colour, then the down hatch and the reservation marks, each one path.
import { allJobs, api } from './api.js';
import { h, raw } from './dom.js';
import { fmtNumber, fmtTime, t } from './i18n.js';

export const POLL_MS = 2500;
const ORG_COLOURS = ['#2563eb', '#16a34a', '#d97706', '#9333ea', '#0891b2', '#db2777', '#65a30d', '#dc2626',
  '#4f46e5', '#0d9488', '#ca8a04', '#c026d3', '#0284c7', '#ea580c', '#059669', '#7c3aed'];
const IDLE = '#e5e7eb';
const HIDDEN = '#64748b';   // held by a job the caller may not see
const DOWN = '#1f2937';
const DOWN_MARK = '#ef4444';  // a red diagonal across a down GPU
const RESERVED = '#fde68a';
const RESERVED_MARK = '#b45309';  // the outline of a reserved idle GPU, the corner of a busy one in a reservation
// colour slots: 0 idle, 1 hidden, 2 down, 3 reserved, 4.. orgs
const FIXED = [IDLE, HIDDEN, DOWN, RESERVED];

const jobCache = new Map();   // job id → {id, name, org, user, project, state}
let lastListFetch = 0;
const orgIds = new Map();     // org name → id (stable colours)

export function forgetJobs() { jobCache.clear(); orgIds.clear(); lastListFetch = 0; }

function orgColour(org) {
  let id = orgIds.get(org);
  if (id === undefined) { id = 0; for (const ch of org) id = (id * 31 + ch.charCodeAt(0)) >>> 0; }
  return ORG_COLOURS[id % ORG_COLOURS.length];
}

/** Make sure every visible job id on the map is in jobCache (list running/admitted/preempting jobs). */
async function resolveJobs(cluster, signal) {
  const missing = new Set();
  for (const b of cluster.blocks) for (const r of b.racks) for (const n of r.nodes) for (const g of n.gpus) {
    if (g.job_id != null && !jobCache.has(g.job_id)) missing.add(g.job_id);
  }
  if (!missing.size || Date.now() - lastListFetch < 2000) return;
  lastListFetch = Date.now();
  const lists = await Promise.all(['running', 'admitted', 'preempting'].map((s) => allJobs(`state=${s}`, { signal })));
  for (const list of lists) for (const j of list) jobCache.set(j.id, j);
  if ([...jobCache.values()].some((j) => !orgIds.has(j.org))) {  // org ids give stable colours
    (await api('/orgs', { signal })).forEach((o) => orgIds.set(o.name, o.id));
  }
  const left = [...missing].filter((id) => !jobCache.has(id)).slice(0, 20);  // e.g. ended meanwhile
  await Promise.all(left.map((id) => api(`/jobs/${id}`, { signal }).then((j) => jobCache.set(j.id, j), () => {})));
}

/** The node's reservation if its window has started (`/cluster` gives `reservation: {..., active}` or null). */
const activeReservation = (node) => (node.reservation && node.reservation.active ? node.reservation : null);

/** down (node.state), job or hidden (busy), reserved (idle in an active reservation) or idle. A server without
 * node states or reservations reads as every node up, none reserved. */
function gpuStatus(node, gpu) {
  if (node.state === 'down' || gpu.state === 'down') return 'down';
  if (gpu.busy) return gpu.job_id == null ? 'hidden' : 'job';
  if (activeReservation(node) || gpu.state === 'reserved') return 'reserved';
  return 'idle';
}

/** Geometry of every cell for a given width; recomputed only when the topology or the width changes. */
function computeLayout(cluster, width) {
  const total = cluster.total_gpus;
  const cell = total <= 64 ? 26 : total <= 512 ? 16 : total <= 4096 ? 9 : 7;
  const pitch = cell + 1;
  const pad = 10, rackPad = 3, rackGap = 6, labelH = Math.max(11, Math.min(14, cell + 2)), blockH = 22;
  const racks = [];
  const cells = [];  // {node, rack, block, gpu}
  let y = pad;
  for (const block of cluster.blocks) {
    racks.push({ blockLabel: block.name, x: pad, y: y + 14 });
    y += blockH;
    let x = pad, rowH = 0;
    for (const rack of block.racks) {
      const cols = Math.max(1, ...rack.nodes.map((n) => n.gpus.length));
      const w = cols * pitch + 2 * rackPad - 1, hgt = labelH + rack.nodes.length * pitch + 2 * rackPad - 1;
      if (x > pad && x + w > width - pad) { x = pad; y += rowH + rackGap; rowH = 0; }
      const entry = { block, rack, x, y, w, h: hgt, gx: x + rackPad, gy: y + labelH + rackPad, nodes: [] };
      rack.nodes.forEach((node, row) => {
        entry.nodes.push({ first: cells.length, count: node.gpus.length });
        node.gpus.forEach((gpu, col) => cells.push({
          block, rack, node, gpu, x: entry.gx + col * pitch, y: entry.gy + row * pitch,
        }));
      });
      racks.push(entry);
      x += w + rackGap;
      rowH = Math.max(rowH, hgt);
    }
    y += rowH + pad + 4;
  }
  return { cell, pitch, racks, cells, height: y, width, labelH };
}

export function mapPage(main, ctx) {
  const summary = h('div', { class: 'map-summary', id: 'map-summary' });
  const legend = h('ul', { class: 'legend', id: 'legend' });
  const canvas = h('canvas', { id: 'cluster-map', 'aria-label': t('map.canvasLabel'), role: 'img' });
  const tip = h('div', { class: 'tooltip', id: 'map-tooltip', hidden: true });
  const status = h('span', { class: 'muted', id: 'map-status' }, t('map.loading'));
  const wrap = h('div', { class: 'map-wrap' }, canvas, tip);
  main.append(
    h('div', { class: 'page-head' }, h('h1', {}, t('map.title')), status),
    summary, legend, wrap,
    h('p', { class: 'muted small' }, t('map.help')));

  let cluster = null, lay = null, colours = null, marked = null, palette = [...FIXED], hoverJob = null, t0 = performance.now();
  let renders = 0;

  function colourAll() {
    palette = [...FIXED];
    const index = new Map(FIXED.map((c, i) => [c, i]));
    colours = new Uint8Array(lay.cells.length);
    marked = [];  // busy GPUs on a node in an active reservation
    const orgCounts = {}, jobCounts = {};
    let busy = 0, hidden = 0, down = 0, reserved = 0;
    lay.cells.forEach((c, i) => {
      const st = gpuStatus(c.node, c.gpu);
      if ((st === 'job' || st === 'hidden') && c.node.reservation && c.node.reservation.active) marked.push(i);
      let slot = 0;
      if (st === 'down') { slot = 2; down++; } else if (st === 'reserved') { slot = 3; reserved++; } else if (st === 'hidden') {
        slot = 1; busy++; hidden++;
      } else if (st === 'job') {
        busy++;
        const job = jobCache.get(c.gpu.job_id);
        jobCounts[c.gpu.job_id] = (jobCounts[c.gpu.job_id] || 0) + 1;
        if (job) {
          orgCounts[job.org] = (orgCounts[job.org] || 0) + 1;
          const col = orgColour(job.org);
          if (!index.has(col)) { index.set(col, palette.length); palette.push(col); }
          slot = index.get(col);
        } else slot = 1;
      }
      colours[i] = slot;
    });
    return { orgCounts, jobCounts, busy, hidden, down, reserved, reservedBusy: marked.length };
  }

  function draw() {
    const dpr = window.devicePixelRatio || 1;
    const w = lay.width, hgt = lay.height;
    if (canvas.width !== Math.round(w * dpr) || canvas.height !== Math.round(hgt * dpr)) {
      canvas.width = Math.round(w * dpr); canvas.height = Math.round(hgt * dpr);
      canvas.style.width = `${w}px`; canvas.style.height = `${hgt}px`;
    }
    const g = canvas.getContext('2d');
    g.setTransform(dpr, 0, 0, dpr, 0, 0);
    g.clearRect(0, 0, w, hgt);
    g.textBaseline = 'alphabetic';
    for (const r of lay.racks) {
      if (r.blockLabel !== undefined) {
        g.fillStyle = '#111827'; g.font = '600 13px system-ui, sans-serif';
        g.fillText(`${t('map.block')} ${r.blockLabel}`, r.x, r.y);
        continue;
      }
      g.fillStyle = '#f8fafc'; g.fillRect(r.x, r.y, r.w, r.h);
      g.strokeStyle = '#cbd5e1'; g.lineWidth = 1; g.strokeRect(r.x + 0.5, r.y + 0.5, r.w - 1, r.h - 1);
      g.fillStyle = '#475569'; g.font = `${Math.min(11, lay.labelH - 2)}px system-ui, sans-serif`;
      g.fillText(r.rack.name, r.x + 3, r.y + lay.labelH - 2, r.w - 4);
    }
    const cells = lay.cells, size = lay.cell;
    for (let slot = 0; slot < palette.length; slot++) {
      g.fillStyle = palette[slot];
      for (let i = 0; i < cells.length; i++) if (colours[i] === slot) g.fillRect(cells[i].x, cells[i].y, size, size);
    }
    g.lineWidth = 1;
    g.strokeStyle = RESERVED_MARK;
    for (let i = 0; i < cells.length; i++) if (colours[i] === 3) g.strokeRect(cells[i].x + 0.5, cells[i].y + 0.5, size - 1, size - 1);
    g.strokeStyle = DOWN_MARK; g.lineWidth = Math.max(1, size / 8);
    g.beginPath();
    for (let i = 0; i < cells.length; i++) {
      if (colours[i] !== 2) continue;
      g.moveTo(cells[i].x + 1, cells[i].y + size - 1); g.lineTo(cells[i].x + size - 1, cells[i].y + 1);
    }
    g.stroke();
    if (marked.length) {  // a corner triangle on busy GPUs inside a reservation
      const k = Math.max(3, Math.round(size * 0.45));
      g.fillStyle = '#f59e0b';
      g.beginPath();
      for (const i of marked) {
        const c = cells[i];
        g.moveTo(c.x + size, c.y); g.lineTo(c.x + size, c.y + k); g.lineTo(c.x + size - k, c.y); g.closePath();
      }
      g.fill();
    }
    g.lineWidth = 1;
    if (hoverJob != null) {
      g.strokeStyle = '#f59e0b'; g.lineWidth = 2;
      for (const c of cells) if (c.gpu.job_id === hoverJob) g.strokeRect(c.x - 1, c.y - 1, size + 2, size + 2);
    }
  }

  function renderLegend(stats) {
    legend.replaceChildren();
    const item = (colour, label, count, attrs = {}, swatchClass = '') => legend.append(h('li', attrs,
      h('span', { class: `swatch ${swatchClass}`.trim(), style: `background:${colour}` }), label, ' ',
      h('span', { class: 'count' }, fmtNumber(count))));
    for (const org of Object.keys(stats.orgCounts).sort()) {
      item(orgColour(org), raw(org), stats.orgCounts[org], { 'data-org': org });
    }
    const idle = lay.cells.length - stats.busy - stats.down - stats.reserved;
    item(IDLE, t('map.idle'), idle, { 'data-state': 'idle' });
    item(HIDDEN, t('map.hidden'), stats.hidden, { 'data-state': 'hidden' });
    item(RESERVED, t('map.reserved'), stats.reserved, { 'data-state': 'reserved' }, 'swatch-reserved');
    item('#94a3b8', t('map.reservedBusy'), stats.reservedBusy, { 'data-state': 'reserved-busy' }, 'swatch-reserved-busy');
    item(DOWN, t('map.down'), stats.down, { 'data-state': 'down' }, 'swatch-down');
  }

  function renderSummary() {
    summary.replaceChildren(
      h('strong', {}, raw(cluster.name)), ' — ',
      t('map.busyOf', { busy: fmtNumber(cluster.busy_gpus), total: fmtNumber(cluster.total_gpus) }),
      ...cluster.gpu_types.map((gt) => h('span', { class: 'pill' }, raw(gt.name), ' ',
        t('map.busyOf', { busy: fmtNumber(gt.busy), total: fmtNumber(gt.total) }))));
  }

  function update(data) {
    const started = performance.now();
    cluster = data;
    const width = Math.max(320, wrap.clientWidth || 1000);
    const key = `${width}|${computeKey(data)}`;
    if (!lay || lay.fullKey !== key) { lay = computeLayout(data, width); lay.fullKey = key; } else {
      // same topology: point the cells at the new GPU objects
      let i = 0;
      for (const b of data.blocks) for (const r of b.racks) for (const n of r.nodes) for (const gpu of n.gpus) {
        const c = lay.cells[i++]; c.gpu = gpu; c.node = n; c.rack = r; c.block = b;
      }
    }
    const stats = colourAll();
    draw();
    renders++;
    renderSummary();
    renderLegend(stats);
    Object.assign(canvas.dataset, {
      cells: String(lay.cells.length), busy: String(stats.busy), hidden: String(stats.hidden),
      down: String(stats.down), reserved: String(stats.reserved), reservedBusy: String(stats.reservedBusy),
      orgs: JSON.stringify(stats.orgCounts), jobs: JSON.stringify(stats.jobCounts), renders: String(renders),
    });
    if (renders === 1) {
      const ms = performance.now() - t0;
      canvas.dataset.firstRenderMs = ms.toFixed(1);
      window.__gpucloudMapFirstRender = { ms, drawMs: performance.now() - started, sinceNavigationMs: performance.now(),
        cells: lay.cells.length };
    }
    status.textContent = t('map.updated', { time: fmtTime(Date.now() / 1000) });
  }

  function cellAt(x, y) {
    if (!lay) return -1;
    for (const r of lay.racks) {
      if (r.blockLabel !== undefined || x < r.gx || y < r.gy || x >= r.x + r.w || y >= r.y + r.h) continue;
      const row = Math.floor((y - r.gy) / lay.pitch), col = Math.floor((x - r.gx) / lay.pitch);
      const node = r.nodes[row];
      if (!node || col >= node.count || (x - r.gx) % lay.pitch >= lay.cell || (y - r.gy) % lay.pitch >= lay.cell) return -1;
      return node.first + col;
    }
    return -1;
  }

  function showTip(index, x, y) {
    if (index < 0) { tip.hidden = true; if (hoverJob != null) { hoverJob = null; draw(); } canvas.style.cursor = ''; return; }
    const c = lay.cells[index];
    const st = gpuStatus(c.node, c.gpu);
    const job = c.gpu.job_id != null ? jobCache.get(c.gpu.job_id) : null;
    const lines = [
      h('div', { class: 'tip-head' }, raw(c.node.name), ' · ', t('map.gpu', { index: c.gpu.index }), ' · ', raw(c.node.gpu_type)),
      h('div', { class: 'muted' }, t('map.block'), ' ', raw(c.block.name), ' · ', t('map.rack'), ' ', raw(c.rack.name)),
    ];
    if (st === 'job') {
      lines.push(h('div', { 'data-tip': 'job' }, t('map.job', { id: c.gpu.job_id }), ' ', job ? raw(job.name || '') : null));
      if (job) lines.push(h('div', {}, t('map.org'), ' ', raw(job.org), ' · ', t('map.user'), ' ', raw(job.user)));
    } else {
      lines.push(h('div', { 'data-tip': st }, t(`map.${st}`)));
    }
    if (st === 'down' && c.node.state_reason) lines.push(h('div', { 'data-tip': 'down-reason' }, t('map.downReason'), ' ', raw(c.node.state_reason)));
    const res = c.node.reservation;
    if (res) {
      lines.push(h('div', { 'data-tip': 'reservation' }, t(res.active ? 'map.reservationNow' : 'map.reservationNext'), ' ',
        raw(res.name), res.org ? [' · ', t('map.org'), ' ', raw(res.org)] : null));
      lines.push(h('div', { class: 'muted' }, t('map.window', { start: fmtTime(res.start), end: fmtTime(res.end) })));
    }
    if (st === 'job') lines.push(h('div', { class: 'muted small' }, t('map.clickToOpen')));
    tip.replaceChildren(...lines);
    tip.hidden = false;
    tip.style.left = `${Math.min(x + 14, wrap.clientWidth - 260)}px`;
    tip.style.top = `${y + 14}px`;
    canvas.style.cursor = st === 'job' ? 'pointer' : '';
    const jid = st === 'job' ? c.gpu.job_id : null;
    if (jid !== hoverJob) { hoverJob = jid; draw(); }
  }

  const pos = (ev) => { const b = canvas.getBoundingClientRect(); return [ev.clientX - b.left, ev.clientY - b.top]; };
  canvas.addEventListener('mousemove', (ev) => { const [x, y] = pos(ev); showTip(cellAt(x, y), x, y); });
  canvas.addEventListener('mouseleave', () => showTip(-1));
  canvas.addEventListener('click', (ev) => {
    const [x, y] = pos(ev); const i = cellAt(x, y);
    if (i >= 0 && lay.cells[i].gpu.job_id != null) ctx.navigate(`#/jobs/${lay.cells[i].gpu.job_id}`);
    else showTip(i, x, y);
  });
  const onResize = () => { if (cluster) { lay = null; update(cluster); } };
  window.addEventListener('resize', onResize);
  ctx.signal.addEventListener('abort', () => { window.removeEventListener('resize', onResize); delete window.__gpucloudMap; });
  // For tests and tools: where a GPU's cell is drawn (canvas coordinates, CSS pixels).
  window.__gpucloudMap = {
    cellCenter(node, index) {
      const c = lay && lay.cells.find((x) => x.node.name === node && x.gpu.index === index);
      return c ? { x: c.x + lay.cell / 2, y: c.y + lay.cell / 2 } : null;
    },
    cellRect(node, index) {
      const c = lay && lay.cells.find((x) => x.node.name === node && x.gpu.index === index);
      return c ? { x: c.x, y: c.y, size: lay.cell } : null;
    },
  };

  let failed = false;
  ctx.poll(async () => {
    try {
      const data = await api('/cluster', { signal: ctx.signal });
      await resolveJobs(data, ctx.signal);
      if (ctx.signal.aborted) return;
      failed = false;
      update(data);
    } catch (err) {
      if (ctx.signal.aborted) return;
      if (!failed) status.textContent = t('map.offline');
      failed = true;
      throw err;
    }
  }, POLL_MS);
}

function computeKey(c) {
  let k = `${c.total_gpus}`;
  for (const b of c.blocks) { k += `;${b.name}`; for (const r of b.racks) k += `|${r.name}:${r.nodes.length}`; }
  return k;
}
