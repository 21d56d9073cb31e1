// Polling: run a function now and again some time after each run ends, until a signal aborts.

/** A poll(fn, ms) that stops with `signal`; fn's errors are logged (an aborted fetch silently). */
export function makePoller(signal) {
  return (fn, ms) => {
    let timer = null;
    const run = async () => {
      if (signal.aborted) return;
      try { await fn(); } catch (err) { if (!(err instanceof DOMException)) console.error(err); }
      if (!signal.aborted) timer = setTimeout(run, ms);
    };
    signal.addEventListener('abort', () => clearTimeout(timer));
    run();
  };
}

/** A context for a part of a page that can be stopped on its own (and stops with the page). */
export function childContext(ctx) {
  const controller = new AbortController();
  ctx.signal.addEventListener('abort', () => controller.abort(), { once: true });
  return { ...ctx, signal: controller.signal, poll: makePoller(controller.signal), stop: () => controller.abort() };
}
