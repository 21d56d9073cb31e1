// The cluster's GPU types for the filters and forms, read once per session from GET /cluster/gpu-types (not the
// whole topology, which is large on a big cluster) and kept.
import { api } from './api.js';

let types = null;

/** [{name, memory_gb, speed, total, node_gpus}] of the cluster. */
export async function gpuTypes(signal) {
  if (!types) types = api('/cluster/gpu-types', { signal }).catch((err) => { types = null; throw err; });
  return types;
}

/** Fill a <select> with the GPU types (keeping its first options and value) once they are known. */
export function fillTypes(select, signal) {
  gpuTypes(signal).then((list) => {
    const keep = select.value;
    for (const g of list) {
      if (![...select.options].some((o) => o.value === g.name)) select.append(new Option(g.name, g.name));
    }
    [...select.options].forEach((o) => { if (o.value) o.dataset.raw = ''; });
    select.value = keep;
  }, () => {});
}
