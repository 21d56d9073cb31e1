// The cluster map: every GPU one cell on a single <canvas>, grouped block → rack → node, coloured by the org of the
// job holding it (colours.js, the same as the charts'); reserved, down and draining nodes drawn apart. Filters
// (org, GPU type, job) dim what does not match; the keyboard moves a focus over the GPUs (arrows, Home/End,
// PageUp/PageDown) and Enter opens the node's panel (map-node.js: its jobs, and drain / down / up for operators).
// Polls GET /api/v1/cluster every 2.5 s; job → org comes from the job lists (cached: a job's org never changes).
// Drawing is one pass of fillRect calls batched by colour, then the marks, each one path.
import { allJobs, api } from './api.js';
import { knowsOrg, loadOrgIds, orgColour } from './colours.js';
import { h, raw } from './dom.js';
import { fmtNumber, fmtTime, t } from './i18n.js';
import { setParams } from './params.js';
import { blockTable } from './map-blocks.js';
import { activeReservation, cellAt, computeLayout, gpuStatus, moveFocus, topologyKey } from './map-layout.js';
import { nodePanel } from './map-node.js';

export const POLL_MS = 2500;
const HIDDEN = '#64748b';   // held by a job the caller may not see
const DOWN = '#1f2937';
const DOWN_MARK = '#ef4444';  // a red diagonal across a down or draining GPU
const RESERVED = '#fde68a';
const RESERVED_MARK = '#b45309';  // the outline of a reserved idle GPU
const CORNER = '#f59e0b';  // the corner of a busy GPU inside a reservation
const FOCUS = '#f59e0b';
// colour slots: 0 idle (the theme's), 1 hidden, 2 down, 3 reserved, 4.. orgs
const FIXED = [null, HIDDEN, DOWN, RESERVED];

const jobCache = new Map();   // job id → {id, name, org, user, project, state}
let lastListFetch = 0;

export function forgetJobs() { jobCache.clear(); lastListFetch = 0; }

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
  if ([...jobCache.values()].some((j) => !knowsOrg(j.org))) await loadOrgIds({ signal, force: true });
  const left = [...missing].filter((id) => !jobCache.has(id)).slice(0, 20);  // e.g. ended meanwhile
  await Promise.all(left.map((id) => api(`/jobs/${id}`, { signal }).then((j) => jobCache.set(j.id, j), () => {})));
}

const css = (el, name, fallback) => getComputedStyle(el).getPropertyValue(name).trim() || fallback;

export async function mapPage(main, ctx) {
  const summary = h('div', { class: 'map-summary', id: 'map-summary' });
  const legend = h('ul', { class: 'legend', id: 'legend' });
  const canvas = h('canvas', { id: 'cluster-map', tabindex: '0', role: 'application', 'aria-label': t('map.canvasLabel'),
    'aria-describedby': 'map-keys' });
  const tip = h('div', { class: 'tooltip', id: 'map-tooltip', hidden: true, role: 'tooltip' });
  const live = h('div', { class: 'visually-hidden', id: 'map-live', 'aria-live': 'polite' });
  const status = h('span', { class: 'muted', id: 'map-status', role: 'status' }, t('map.loading'));
  const wrap = h('div', { class: 'map-wrap' }, canvas, tip);
  const panelSlot = h('div', { id: 'node-panel-slot' });
  const blocks = h('section', { class: 'card', id: 'blocks' }, h('h2', {}, t('blocks.title')), h('div', { id: 'blocks-body' }));
  const orgSel = h('select', { id: 'map-org', 'data-filter': 'org' }, h('option', { value: '' }, t('filter.allOrgs')));
  const typeSel = h('select', { id: 'map-gpu-type', 'data-filter': 'gpu_type' }, h('option', { value: '' }, t('filter.allTypes')));
  const jobIn = h('input', { id: 'map-job', 'data-filter': 'job', type: 'search', inputmode: 'numeric', placeholder: t('map.jobHint') });
  const filters = h('div', { class: 'filters', role: 'search' },
    h('label', { class: 'filter' }, h('span', {}, t('filter.org')), orgSel),
    h('label', { class: 'filter' }, h('span', {}, t('filter.gpuType')), typeSel),
    h('label', { class: 'filter' }, h('span', {}, t('map.jobFilter')), jobIn));
  main.append(
    h('div', { class: 'page-head' }, h('h1', {}, t('map.title')), status),
    summary, filters, legend, wrap, live,
    h('p', { class: 'muted small', id: 'map-keys' }, t('map.help'), ' ', t('map.keys')), panelSlot, blocks);

  let cluster = null, lay = null, colours = null, marked = null, diag = null, palette = [...FIXED], hoverJob = null;
  let focus = -1, selectedNode = null, renders = 0, matching = null;
  const t0 = performance.now();
  const filter = { org: ctx.params.get('org') || '', gpu_type: ctx.params.get('gpu_type') || '', job: ctx.params.get('job') || '' };
  jobIn.value = filter.job;

  const matches = (c) => {
    if (filter.gpu_type && c.node.gpu_type !== filter.gpu_type) return false;
    if (filter.job && String(c.gpu.job_id) !== filter.job) return false;
    if (filter.org) { const job = c.gpu.job_id != null ? jobCache.get(c.gpu.job_id) : null; if (!job || job.org !== filter.org) return false; }
    return true;
  };
  const filtering = () => Boolean(filter.org || filter.gpu_type || filter.job);

  function colourAll() {
    palette = [...FIXED];
    const index = new Map([[HIDDEN, 1], [DOWN, 2], [RESERVED, 3]]);
    colours = new Uint8Array(lay.cells.length);
    marked = [];  // busy GPUs on a node in an active reservation
    diag = [];    // down and draining GPUs
    matching = filtering() ? new Uint8Array(lay.cells.length) : null;
    const orgCounts = {}, jobCounts = {};
    let busy = 0, hidden = 0, down = 0, reserved = 0, draining = 0, matched = 0;
    lay.cells.forEach((c, i) => {
      const st = gpuStatus(c.node, c.gpu);
      if ((st === 'job' || st === 'hidden') && activeReservation(c.node)) marked.push(i);
      if (st === 'down' || st === 'draining') diag.push(i);
      let slot = 0;
      if (st === 'down') { slot = 2; down++; } else if (st === 'reserved') { slot = 3; reserved++; } else if (st !== 'idle') {
        busy++;
        if (st === 'draining') draining++;
        const job = c.gpu.job_id != null ? jobCache.get(c.gpu.job_id) : null;
        if (c.gpu.job_id == null) { slot = 1; hidden++; } else {
          jobCounts[c.gpu.job_id] = (jobCounts[c.gpu.job_id] || 0) + 1;
          slot = 1;
          if (job) {
            orgCounts[job.org] = (orgCounts[job.org] || 0) + 1;
            const col = orgColour(job.org);
            if (!index.has(col)) { index.set(col, palette.length); palette.push(col); }
            slot = index.get(col);
          }
        }
      }
      colours[i] = slot;
      if (matching && matches(c)) { matching[i] = 1; matched++; }
    });
    return { orgCounts, jobCounts, busy, hidden, down, reserved, draining, reservedBusy: marked.length, matched };
  }

  function draw() {
    const dpr = window.devicePixelRatio || 1;
    const w = lay.width, hgt = lay.height;
    if (canvas.width !== Math.round(w * dpr) || canvas.height !== Math.round(hgt * dpr)) {
      canvas.width = Math.round(w * dpr); canvas.height = Math.round(hgt * dpr);
      canvas.style.width = `${w}px`; canvas.style.height = `${hgt}px`;
    }
    palette[0] = css(canvas, '--map-idle', '#e5e7eb');
    const g = canvas.getContext('2d');
    g.setTransform(dpr, 0, 0, dpr, 0, 0);
    g.clearRect(0, 0, w, hgt);
    g.textBaseline = 'alphabetic';
    const rackBg = css(canvas, '--map-rack', '#f8fafc'), rackLine = css(canvas, '--map-rack-line', '#cbd5e1');
    const label = css(canvas, '--map-label', '#475569'), blockLabel = css(canvas, '--map-block-label', '#111827');
    for (const r of lay.racks) {
      if (r.blockLabel !== undefined) {
        g.fillStyle = blockLabel; g.font = '600 13px system-ui, sans-serif';
        g.fillText(`${t('map.block')} ${r.blockLabel}`, r.x, r.y);
        continue;
      }
      g.fillStyle = rackBg; g.fillRect(r.x, r.y, r.w, r.h);
      g.strokeStyle = rackLine; g.lineWidth = 1; g.strokeRect(r.x + 0.5, r.y + 0.5, r.w - 1, r.h - 1);
      g.fillStyle = label; g.font = `${Math.min(11, lay.labelH - 2)}px system-ui, sans-serif`;
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
    for (const i of diag) { g.moveTo(cells[i].x + 1, cells[i].y + size - 1); g.lineTo(cells[i].x + size - 1, cells[i].y + 1); }
    g.stroke();
    if (marked.length) {  // a corner triangle on busy GPUs inside a reservation
      const k = Math.max(3, Math.round(size * 0.45));
      g.fillStyle = CORNER;
      g.beginPath();
      for (const i of marked) {
        const c = cells[i];
        g.moveTo(c.x + size, c.y); g.lineTo(c.x + size, c.y + k); g.lineTo(c.x + size - k, c.y); g.closePath();
      }
      g.fill();
    }
    if (matching) {  // what does not match the filters fades into the background
      g.fillStyle = css(canvas, '--map-dim', 'rgba(255,255,255,.78)');
      for (let i = 0; i < cells.length; i++) if (!matching[i]) g.fillRect(cells[i].x, cells[i].y, size, size);
    }
    g.lineWidth = 2;
    if (hoverJob != null) {
      g.strokeStyle = FOCUS;
      for (const c of cells) if (c.gpu.job_id === hoverJob) g.strokeRect(c.x - 1, c.y - 1, size + 2, size + 2);
    }
    if (selectedNode != null) {
      const span = lay.nodes[selectedNode];
      const a = cells[span.first], b = cells[span.first + span.count - 1];
      g.strokeStyle = css(canvas, '--accent', '#2563eb');
      g.strokeRect(a.x - 2, a.y - 2, b.x - a.x + size + 4, size + 4);
    }
    if (focus >= 0 && document.activeElement === canvas) {
      const c = cells[focus];
      g.strokeStyle = css(canvas, '--map-focus', '#111827'); g.lineWidth = 2;
      g.strokeRect(c.x - 2, c.y - 2, size + 4, size + 4);
    }
    g.lineWidth = 1;
  }

  function renderLegend(stats) {
    legend.replaceChildren();
    const item = (colour, label, count, attrs = {}, swatchClass = '') => legend.append(h('li', attrs,
      h('span', { class: `swatch ${swatchClass}`.trim(), style: colour ? `background:${colour}` : '' }), label, ' ',
      h('span', { class: 'count' }, fmtNumber(count))));
    for (const org of Object.keys(stats.orgCounts).sort()) {
      item(orgColour(org), raw(org), stats.orgCounts[org], { 'data-org': org });
    }
    const idle = lay.cells.length - stats.busy - stats.down - stats.reserved;
    item(null, t('map.idle'), idle, { 'data-state': 'idle' }, 'swatch-idle');
    item(HIDDEN, t('map.hidden'), stats.hidden, { 'data-state': 'hidden' });
    item(RESERVED, t('map.reserved'), stats.reserved, { 'data-state': 'reserved' }, 'swatch-reserved');
    item('#94a3b8', t('map.reservedBusy'), stats.reservedBusy, { 'data-state': 'reserved-busy' }, 'swatch-reserved-busy');
    item(DOWN, t('map.down'), stats.down, { 'data-state': 'down' }, 'swatch-down');
    item('#94a3b8', t('map.draining'), stats.draining, { 'data-state': 'draining' }, 'swatch-draining');
  }

  function renderSummary() {
    summary.replaceChildren(
      h('strong', {}, raw(cluster.name)), ' — ',
      t('map.busyOf', { busy: fmtNumber(cluster.busy_gpus), total: fmtNumber(cluster.total_gpus) }),
      ...cluster.gpu_types.map((gt) => h('span', { class: 'pill' }, raw(gt.name), ' ',
        t('map.busyOf', { busy: fmtNumber(gt.busy), total: fmtNumber(gt.total) }))));
  }

  function fillFilters(stats) {
    const have = new Set([...orgSel.options].map((o) => o.value));
    for (const org of Object.keys(stats.orgCounts).sort()) if (!have.has(org)) orgSel.append(raw(org, 'option', { value: org }));
    if (filter.org && !have.has(filter.org) && !stats.orgCounts[filter.org]) orgSel.append(raw(filter.org, 'option', { value: filter.org }));
    orgSel.value = filter.org;
    for (const gt of cluster.gpu_types) if (![...typeSel.options].some((o) => o.value === gt.name)) typeSel.append(raw(gt.name, 'option', { value: gt.name }));
    typeSel.value = filter.gpu_type;
  }

  function update(data) {
    const started = performance.now();
    cluster = data;
    const width = Math.max(320, wrap.clientWidth || 1000);
    const key = `${width}|${topologyKey(data)}`;
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
    fillFilters(stats);
    Object.assign(canvas.dataset, {
      cells: String(lay.cells.length), busy: String(stats.busy), hidden: String(stats.hidden),
      down: String(stats.down), reserved: String(stats.reserved), reservedBusy: String(stats.reservedBusy),
      draining: String(stats.draining), matching: matching ? String(stats.matched) : '',
      orgs: JSON.stringify(stats.orgCounts), jobs: JSON.stringify(stats.jobCounts), renders: String(renders),
    });
    document.getElementById('blocks-body')?.replaceChildren(blockTable(data));
    if (selectedNode != null) openPanel(selectedNode, false);
    if (renders === 1) {
      const ms = performance.now() - t0;
      canvas.dataset.firstRenderMs = ms.toFixed(1);
      window.__gpucloudMapFirstRender = { ms, drawMs: performance.now() - started, sinceNavigationMs: performance.now(),
        cells: lay.cells.length };
    }
    status.textContent = t('map.updated', { time: fmtTime(Date.now() / 1000) });
  }

  /** The tooltip's lines for cell i (hover and keyboard focus). */
  function describe(i) {
    const c = lay.cells[i];
    const st = gpuStatus(c.node, c.gpu);
    const job = c.gpu.job_id != null ? jobCache.get(c.gpu.job_id) : null;
    const lines = [
      h('div', { class: 'tip-head' }, raw(c.node.name), ' · ', t('map.gpu', { index: c.gpu.index }), ' · ', raw(c.node.gpu_type)),
      h('div', { class: 'muted' }, t('map.block'), ' ', raw(c.block.name), ' · ', t('map.rack'), ' ', raw(c.rack.name)),
    ];
    if (c.gpu.job_id != null) {
      lines.push(h('div', { 'data-tip': 'job' }, t('map.job', { id: c.gpu.job_id }), ' ', job ? raw(job.name || '') : null));
      if (job) lines.push(h('div', {}, t('map.org'), ' ', raw(job.org), ' · ', t('map.user'), ' ', raw(job.user)));
      if (st === 'draining') lines.push(h('div', { 'data-tip': 'draining' }, t('map.draining')));
    } else {
      lines.push(h('div', { 'data-tip': st }, t(`map.${st}`)));
    }
    if ((st === 'down' || st === 'draining') && c.node.state_reason) {
      lines.push(h('div', { 'data-tip': 'down-reason' }, t('map.downReason'), ' ', raw(c.node.state_reason)));
    }
    const res = c.node.reservation;
    if (res) {
      lines.push(h('div', { 'data-tip': 'reservation' }, t(res.active ? 'map.reservationNow' : 'map.reservationNext'), ' ',
        raw(res.name), res.org ? [' · ', t('map.org'), ' ', raw(res.org)] : null));
      lines.push(h('div', { class: 'muted' }, t('map.window', { start: fmtTime(res.start), end: fmtTime(res.end) })));
    }
    lines.push(h('div', { class: 'muted small' }, t('map.clickToOpen')));
    return lines;
  }

  function showTip(index, x, y) {
    if (index < 0) { tip.hidden = true; if (hoverJob != null) { hoverJob = null; draw(); } canvas.style.cursor = ''; return; }
    const c = lay.cells[index];
    tip.replaceChildren(...describe(index));
    tip.hidden = false;
    tip.style.left = `${Math.max(0, Math.min(x + 14, wrap.clientWidth - 260))}px`;
    tip.style.top = `${y + 14}px`;
    canvas.style.cursor = 'pointer';
    const jid = c.gpu.job_id;
    if (jid !== hoverJob) { hoverJob = jid; draw(); }
  }

  function openPanel(n, scroll = true) {
    selectedNode = n;
    const node = lay.cells[lay.nodes[n].first].node;
    panelSlot.replaceChildren(nodePanel({ ctx, node, jobOf: (id) => jobCache.get(id),
      onChanged: refresh, onClose: () => { selectedNode = null; panelSlot.replaceChildren(); draw(); canvas.focus(); } }));
    draw();
    if (scroll) panelSlot.scrollIntoView({ block: 'nearest' });
  }

  const pos = (ev) => { const b = canvas.getBoundingClientRect(); return [ev.clientX - b.left, ev.clientY - b.top]; };
  canvas.addEventListener('mousemove', (ev) => { if (lay) { const [x, y] = pos(ev); showTip(cellAt(lay, x, y), x, y); } });
  canvas.addEventListener('mouseleave', () => showTip(-1));
  canvas.addEventListener('click', (ev) => {
    if (!lay) return;
    const [x, y] = pos(ev); const i = cellAt(lay, x, y);
    if (i >= 0) { focus = i; openPanel(lay.cells[i].n); }
  });
  canvas.addEventListener('focus', () => { if (lay) draw(); });
  canvas.addEventListener('blur', () => { if (lay) { draw(); tip.hidden = true; } });
  canvas.addEventListener('keydown', (ev) => {
    if (!lay) return;
    if (ev.key === 'Enter' || ev.key === ' ') {
      if (focus >= 0) { ev.preventDefault(); openPanel(lay.cells[focus].n); }
      return;
    }
    if (ev.key === 'Escape') { tip.hidden = true; if (selectedNode != null) { selectedNode = null; panelSlot.replaceChildren(); draw(); } return; }
    const next = moveFocus(lay, focus, ev.key);
    if (next < 0) return;
    ev.preventDefault();
    focus = next;
    const c = lay.cells[focus];
    showTip(focus, c.x + lay.cell, c.y + lay.cell);
    live.textContent = tip.textContent;
    canvas.dataset.focus = `${c.node.name}:${c.gpu.index}`;
    draw();
  });
  const setFilter = (name, value) => {
    filter[name] = value;
    setParams({ [name]: value || null });
    if (cluster) update(cluster);
  };
  orgSel.addEventListener('change', () => setFilter('org', orgSel.value));
  typeSel.addEventListener('change', () => setFilter('gpu_type', typeSel.value));
  jobIn.addEventListener('input', () => setFilter('job', jobIn.value.replace(/^#/, '').trim()));
  const onResize = () => { if (cluster) { lay = null; update(cluster); } };
  window.addEventListener('resize', onResize);
  const scheme = window.matchMedia('(prefers-color-scheme: dark)');
  const onScheme = () => { if (lay) draw(); };
  scheme.addEventListener('change', onScheme);
  ctx.signal.addEventListener('abort', () => {
    window.removeEventListener('resize', onResize); scheme.removeEventListener('change', onScheme); delete window.__gpucloudMap;
  });
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
  async function refresh() {
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
  }
  ctx.poll(refresh, POLL_MS);
}
