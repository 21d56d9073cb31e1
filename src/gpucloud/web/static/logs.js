// A job's logs: every rank (the job's placement, in rank order), stdout or stderr, a live tail, the whole log as a
// download, and a search through the whole log with line numbers. GET /jobs/{id}/logs?rank=&stream=&offset=&limit=.
import { api } from './api.js';
import { h, raw } from './dom.js';
import { fmtNumber, t } from './i18n.js';
import { errorLine } from './common.js';

const KEEP = 256 * 1024;         // the tail keeps this much text
const CHUNK = 4 * 1024 * 1024;   // the most one request reads
const MAX_WHOLE = 64 * 1024 * 1024;
const MAX_MATCHES = 1000;

export function logView(ctx, jobId, placement) {
  const ranks = placement && placement.length ? placement : [{ node: null }];
  // each option names the rank's node (data): the whole option is marked data-raw
  const rankSel = h('select', { id: 'log-rank', 'aria-label': t('logs.rank') }, ...ranks.map((p, i) => h('option',
    { value: String(i), 'data-raw': '' }, t('logs.rankN', { rank: i }), p.node ? ` · ${p.node}` : '')));
  const streamSel = h('select', { id: 'log-stream', 'aria-label': t('logs.stream') }, h('option', { value: 'stdout' }, t('logs.stdout')),
    h('option', { value: 'stderr' }, t('logs.stderr')));
  const status = h('span', { class: 'muted', id: 'log-status', role: 'status' });
  const pre = h('pre', { class: 'log', id: 'job-log', 'data-raw': '', tabindex: '0' });
  const query = h('input', { type: 'search', id: 'log-search', placeholder: t('logs.searchHint'), 'aria-label': t('logs.search') });
  const results = h('div', { id: 'log-results', class: 'log-results', hidden: true });
  const download = h('button', { type: 'button', class: 'secondary', id: 'log-download' }, t('logs.download'));
  const message = h('span', { class: 'inline-msg', id: 'log-message' });
  const el = h('section', { class: 'card', id: 'job-logs' },
    h('div', { class: 'page-head' }, h('h2', {}, t('job.logs')), ranks.length > 1 ? rankSel : null, streamSel, status),
    h('form', { class: 'log-tools', role: 'search', onsubmit: (ev) => { ev.preventDefault(); search(); } },
      query, h('button', { type: 'submit', class: 'secondary', id: 'log-search-go' }, t('logs.searchGo')), download, message),
    results, pre);

  let rank = 0, stream = 'stdout', offset = 0, done = false, generation = 0, whole = null;
  const base = () => `/jobs/${jobId}/logs?rank=${rank}&stream=${stream}`;
  const reset = () => {
    rank = Number(rankSel.value); stream = streamSel.value; offset = 0; done = false; whole = null; generation++;
    pre.textContent = ''; results.hidden = true; results.replaceChildren(); message.replaceChildren();
    el.dataset.rank = String(rank);
  };
  rankSel.addEventListener('change', reset);
  streamSel.addEventListener('change', reset);
  el.dataset.rank = '0';

  // the live tail: read from `offset`, append, keep the last KEEP characters; stop when the API says done
  ctx.poll(async () => {
    if (done) return;
    const mine = generation;
    for (let i = 0; i < 20; i++) {
      const chunk = await api(`${base()}&offset=${offset}&limit=65536`, { signal: ctx.signal });
      if (mine !== generation) return;
      if (chunk.text) {
        const stick = pre.scrollTop + pre.clientHeight >= pre.scrollHeight - 4;
        let text = pre.textContent + chunk.text;
        if (text.length > KEEP) text = text.slice(text.length - KEEP);
        pre.textContent = text;
        if (stick) pre.scrollTop = pre.scrollHeight;
      }
      offset = chunk.next_offset;
      done = chunk.done;
      status.textContent = t(done ? 'logs.done' : 'logs.live', { size: fmtNumber(chunk.size) });
      if (done || chunk.next_offset >= chunk.size) break;
    }
  }, 1500);

  /** The whole log of the rank and stream shown (read once per choice and kept while it is complete). */
  async function readWhole() {
    if (whole && whole.done) return whole.text;
    const mine = generation;
    let text = '', at = 0, finished = false;
    const parts = [];
    for (;;) {
      const chunk = await api(`${base()}&offset=${at}&limit=${CHUNK}`, { signal: ctx.signal });
      parts.push(chunk.text);
      at = chunk.next_offset;
      finished = chunk.done;
      if (chunk.next_offset >= chunk.size || !chunk.text || at >= MAX_WHOLE) break;
    }
    text = parts.join('');
    if (mine === generation) whole = { text, done: finished };
    return text;
  }

  async function search() {
    const needle = query.value.trim().toLowerCase();
    results.replaceChildren();
    message.replaceChildren();
    if (!needle) { results.hidden = true; return; }
    try {
      const lines = (await readWhole()).split('\n');
      const found = [];
      for (let i = 0; i < lines.length && found.length < MAX_MATCHES; i++) {
        if (lines[i].toLowerCase().includes(needle)) found.push([i + 1, lines[i]]);
      }
      results.dataset.matches = String(found.length);
      results.append(h('p', { class: 'muted small' }, t(found.length >= MAX_MATCHES ? 'logs.matchesMany' : 'logs.matches',
        { n: fmtNumber(found.length) })),
      h('ol', { class: 'log-matches' }, ...found.map(([n, line]) => h('li', { value: n, 'data-line': n },
        h('span', { class: 'line-no' }, t('logs.line', { n: fmtNumber(n) })), ' ', raw(line, 'code')))));
      results.hidden = false;
    } catch (err) { message.append(errorLine(err)); }
  }

  download.addEventListener('click', async () => {
    message.replaceChildren();
    try {
      const text = await readWhole();
      const url = URL.createObjectURL(new Blob([text], { type: 'text/plain;charset=utf-8' }));
      const a = h('a', { href: url, download: `job-${jobId}-rank${rank}-${stream}.log`, hidden: true });
      document.body.append(a);
      a.click();
      a.remove();
      setTimeout(() => URL.revokeObjectURL(url), 10000);
    } catch (err) { message.append(errorLine(err)); }
  });
  return el;
}
