// Org colours, one place for the map and the charts: the colour of an org comes from its id (GET /orgs), so it is
// the same for every user and on every page. The 12 colours are far apart (CIE76 ΔE ≥ 34 between any two, ≥ 41
// among the first 8) and apart from the map's fixed colours (idle, hidden, reserved, down).
import { api } from './api.js';

export const ORG_PALETTE = ['#2563eb', '#ea580c', '#16a34a', '#0891b2', '#f472b6', '#c026d3', '#78350f', '#2dd4bf',
  '#84cc16', '#581c87', '#3f6212', '#9d174d'];

const ids = new Map();  // org name → id
let loading = null;

/** Learn the ids of the orgs the caller may see (once; again when an unknown org shows up). */
export async function loadOrgIds({ signal, force = false } = {}) {
  if (loading && !force) return loading;
  loading = api('/orgs', { signal }).then((orgs) => { for (const o of orgs) ids.set(o.name, o.id); },
    (err) => { loading = null; throw err; });
  return loading;
}

export function knowsOrg(name) { return ids.has(name); }

export function forgetOrgIds() { ids.clear(); loading = null; }

/** The org's colour: by id when known, else by a hash of its name (an org the caller may not list). */
export function orgColour(name) {
  let id = ids.get(name);
  if (id === undefined) { id = 0; for (const ch of name) id = (id * 31 + ch.charCodeAt(0)) >>> 0; return ORG_PALETTE[id % ORG_PALETTE.length]; }
  return ORG_PALETTE[(id - 1 + ORG_PALETTE.length) % ORG_PALETTE.length];
}
