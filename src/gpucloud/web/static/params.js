// Page state in the URL: `#/jobs?state=running&sort=-submitted&page=2`. A page reads ctx.params and writes its
// state back with setParams, which replaces the address without reloading the page, so a view can be shared and
// the back button returns to it.

export function parseHash(hash = location.hash) {
  const body = hash.replace(/^#\/?/, '');
  const q = body.indexOf('?');
  const path = q < 0 ? body : body.slice(0, q);
  const parts = path.split('/').filter(Boolean).map(decodeURIComponent);
  return { name: parts[0] || 'map', arg: parts[1], params: new URLSearchParams(q < 0 ? '' : body.slice(q + 1)) };
}

/** The hash of `name` (and `arg`) with these parameters (empty values left out). */
export function hashOf(name, params, arg) {
  const q = new URLSearchParams();
  for (const [k, v] of params instanceof URLSearchParams ? params.entries() : Object.entries(params || {})) {
    if (v !== '' && v !== null && v !== undefined) q.append(k, String(v));
  }
  const s = q.toString();
  return `#/${name}${arg !== undefined ? `/${encodeURIComponent(arg)}` : ''}${s ? `?${s}` : ''}`;
}

/** Write `values` into the address of the current page (null or '' removes a parameter); no reload. */
export function setParams(values) {
  const { name, arg, params } = parseHash();
  for (const [k, v] of Object.entries(values)) {
    if (v === null || v === undefined || v === '') params.delete(k); else params.set(k, String(v));
  }
  const next = hashOf(name, params, arg);
  if (next !== location.hash) history.replaceState(null, '', next);
}
