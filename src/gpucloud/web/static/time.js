// Local date and time inputs ↔ what the API reads (ISO 8601 with the browser's offset; epoch seconds).

const pad = (n) => String(n).padStart(2, '0');

/** A datetime-local value ("2026-12-07T09:00", seconds optional) or a date ("2026-12-07", its local midnight) as
 * ISO 8601 with the browser's offset for that date ("2026-12-07T09:00:00+09:00"); undefined when empty, the text
 * as is when the browser cannot read it. */
export function localToIso(value) {
  if (!value) return undefined;
  const text = value.length === 10 ? `${value}T00:00` : value;
  const d = new Date(text);
  if (Number.isNaN(d.getTime())) return value;
  const off = -d.getTimezoneOffset();
  const sign = off >= 0 ? '+' : '-';
  const abs = Math.abs(off);
  return `${text.length === 16 ? `${text}:00` : text}${sign}${pad(Math.floor(abs / 60))}:${pad(abs % 60)}`;
}

/** Epoch seconds as a datetime-local value in the browser's time zone (minutes). */
export function isoLocal(epoch) {
  const d = new Date(epoch * 1000);
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}T${pad(d.getHours())}:${pad(d.getMinutes())}`;
}
