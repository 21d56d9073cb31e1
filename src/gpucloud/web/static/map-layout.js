// The cluster map's geometry: one rectangle per GPU, grouped block → rack (a box) → node (a row), computed once per
// topology and width; which cell is under a point; the cell a key moves to; what each GPU's state is.

/** The node's reservation if its window has started (`/cluster` gives `reservation: {..., active}` or null). */
export const activeReservation = (node) => (node.reservation && node.reservation.active ? node.reservation : null);

/** down (node.state; a busy GPU there is draining), job or hidden (busy), reserved (idle in an active
 * reservation) or idle. A server without node states or reservations reads as every node up, none reserved. */
export function gpuStatus(node, gpu) {
  const down = node.state === 'down' || gpu.state === 'down';
  if (gpu.busy) return down ? 'draining' : gpu.job_id == null ? 'hidden' : 'job';
  if (down) return 'down';
  if (activeReservation(node) || gpu.state === 'reserved') return 'reserved';
  return 'idle';
}

export function topologyKey(c) {
  let k = `${c.total_gpus}`;
  for (const b of c.blocks) { k += `;${b.name}`; for (const r of b.racks) k += `|${r.name}:${r.nodes.length}`; }
  return k;
}

/** Geometry of every cell for a given width. `nodes`: each node's first cell and count, in order. */
export function computeLayout(cluster, width) {
  const total = cluster.total_gpus;
  const cell = total <= 64 ? 26 : total <= 512 ? 16 : total <= 4096 ? 9 : 7;
  const pitch = cell + 1;
  const pad = 10, rackPad = 3, rackGap = 6, labelH = Math.max(11, Math.min(14, cell + 2)), blockH = 22;
  const racks = [];
  const cells = [];  // {node, rack, block, gpu, x, y, n (node number)}
  const nodes = [];  // {first, count}
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
        const span = { first: cells.length, count: node.gpus.length };
        entry.nodes.push(span);
        node.gpus.forEach((gpu, col) => cells.push({
          block, rack, node, gpu, x: entry.gx + col * pitch, y: entry.gy + row * pitch, n: nodes.length,
        }));
        nodes.push(span);
      });
      racks.push(entry);
      x += w + rackGap;
      rowH = Math.max(rowH, hgt);
    }
    y += rowH + pad + 4;
  }
  return { cell, pitch, racks, cells, nodes, height: y, width, labelH };
}

/** The index of the cell at (x, y), or -1. */
export function cellAt(lay, x, y) {
  for (const r of lay.racks) {
    if (r.blockLabel !== undefined || x < r.gx || y < r.gy || x >= r.x + r.w || y >= r.y + r.h) continue;
    const row = Math.floor((y - r.gy) / lay.pitch), col = Math.floor((x - r.gx) / lay.pitch);
    const node = r.nodes[row];
    if (!node || col >= node.count || (x - r.gx) % lay.pitch >= lay.cell || (y - r.gy) % lay.pitch >= lay.cell) return -1;
    return node.first + col;
  }
  return -1;
}

/** Where a key moves the focus from cell `i`: ←/→ the previous/next GPU, ↑/↓ the same GPU of the previous/next
 * node, Home/End the first/last GPU of the cluster, PageUp/PageDown ten nodes. -1: not a moving key. */
export function moveFocus(lay, i, key) {
  const last = lay.cells.length - 1;
  if (i < 0) return key.startsWith('Arrow') || key === 'Home' ? 0 : key === 'End' ? last : -1;
  const here = lay.cells[i], span = lay.nodes[here.n], col = i - span.first;
  const toNode = (n) => { const s = lay.nodes[Math.max(0, Math.min(lay.nodes.length - 1, n))]; return s.first + Math.min(col, s.count - 1); };
  switch (key) {
    case 'ArrowRight': return Math.min(last, i + 1);
    case 'ArrowLeft': return Math.max(0, i - 1);
    case 'ArrowDown': return toNode(here.n + 1);
    case 'ArrowUp': return toNode(here.n - 1);
    case 'PageDown': return toNode(here.n + 10);
    case 'PageUp': return toNode(here.n - 10);
    case 'Home': return 0;
    case 'End': return last;
    default: return -1;
  }
}
