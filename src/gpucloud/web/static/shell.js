// Command lines as a POSIX shell reads them: argv → one line that pastes back to the same argv (single quotes
// where needed), and a line → argv (quotes, backslashes), for the submit form, the job page and "copy as CLI".

const SAFE = /^[A-Za-z0-9_@%+=:,./-]+$/;

/** One argument, quoted for a POSIX shell when it needs to be: `it's` → `'it'"'"'s'`, `` → `''`. */
export function quoteArg(arg) {
  if (arg === '') return "''";
  if (SAFE.test(arg)) return arg;
  return `'${arg.replace(/'/g, `'"'"'`)}'`;
}

export function quoteArgv(argv) { return argv.map(quoteArg).join(' '); }

/** Split a command line into arguments like sh does (no expansion): '…' literal, "…" with \" \\ \$ \`, \x outside.
 * Throws an Error whose message is a translation key when a quote is left open. */
export function splitCommand(line) {
  const out = [];
  let cur = '', inArg = false, i = 0;
  while (i < line.length) {
    const c = line[i];
    if (c === "'") {
      const end = line.indexOf("'", i + 1);
      if (end < 0) throw new Error('submit.openQuote');
      cur += line.slice(i + 1, end); inArg = true; i = end + 1;
    } else if (c === '"') {
      i++; inArg = true;
      for (;;) {
        if (i >= line.length) throw new Error('submit.openQuote');
        const d = line[i];
        if (d === '"') { i++; break; }
        if (d === '\\' && i + 1 < line.length && '"\\$`\n'.includes(line[i + 1])) { if (line[i + 1] !== '\n') cur += line[i + 1]; i += 2; continue; }
        cur += d; i++;
      }
    } else if (c === '\\') {
      if (i + 1 < line.length && line[i + 1] !== '\n') { cur += line[i + 1]; inArg = true; }
      i += 2;
    } else if (/\s/.test(c)) {
      if (inArg) { out.push(cur); cur = ''; inArg = false; }
      i++;
    } else { cur += c; inArg = true; i++; }
  }
  if (inArg) out.push(cur);
  return out;
}
