// The REST client: every call carries the token kept in localStorage; errors become ApiError.
const TOKEN_KEY = 'gpucloud.token';

export function getToken() { return localStorage.getItem(TOKEN_KEY) || ''; }
export function setToken(token) {
  if (token) localStorage.setItem(TOKEN_KEY, token); else localStorage.removeItem(TOKEN_KEY);
}

/** An answer that is not 2xx. `fields` holds the 422 field errors ({field, message, value}), else null. */
export class ApiError extends Error {
  constructor(status, detail) {
    super(typeof detail === 'string' ? detail : `HTTP ${status}`);
    this.status = status;
    this.detail = detail;
    this.fields = Array.isArray(detail) ? detail : null;
  }
}

let onUnauthorized = () => {};
/** Called (once per refused call) when the server answers 401: the token is unknown or revoked. */
export function setUnauthorizedHandler(fn) { onUnauthorized = fn; }

export async function api(path, { method = 'GET', body, signal, token } = {}) {
  const headers = { Authorization: `Bearer ${token ?? getToken()}` };
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  const response = await fetch(`/api/v1${path}`, {
    method, headers, signal, body: body === undefined ? undefined : JSON.stringify(body),
  });
  if (response.status === 204) return null;
  let data = null;
  try { data = await response.json(); } catch { /* not JSON */ }
  if (!response.ok) {
    const err = new ApiError(response.status, data ? data.detail : null);
    if (response.status === 401 && token === undefined) onUnauthorized(err);
    throw err;
  }
  return data;
}

/** Every item of a paged job list (`next_cursor`), at most `maxPages` pages of 1000. */
export async function allJobs(query = '', { maxPages = 20, signal } = {}) {
  const out = [];
  let cursor = null;
  for (let page = 0; page < maxPages; page++) {
    const sep = query ? '&' : '';
    const data = await api(`/jobs?${query}${sep}limit=1000${cursor ? `&cursor=${cursor}` : ''}`, { signal });
    out.push(...data.items);
    if (data.next_cursor == null) break;
    cursor = data.next_cursor;
  }
  return out;
}
