// Small formatting helpers shared by the pages. Pure (no DOM), so tests run them in Node.

/** `2026-05-01 09:12 UTC` from an ISO time; anything else as given. */
export function when(iso: unknown): string {
  if (typeof iso !== 'string') return '—';
  return /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}/.test(iso) ? `${iso.slice(0, 10)} ${iso.slice(11, 16)} UTC` : iso;
}

/** "3 minutes ago", "in 2 hours"; empty when the time is unreadable. */
export function ago(iso: unknown, now: number = Date.now()): string {
  if (typeof iso !== 'string') return '';
  const t = Date.parse(iso);
  if (Number.isNaN(t)) return '';
  const s = Math.round((now - t) / 1000);
  const units: [number, string][] = [
    [86400 * 365, 'year'],
    [86400 * 30, 'month'],
    [86400, 'day'],
    [3600, 'hour'],
    [60, 'minute'],
  ];
  const abs = Math.abs(s);
  if (abs < 60) return 'just now';
  const [size, unit] = units.find(([u]) => abs >= u)!;
  const n = Math.floor(abs / size);
  const text = `${n} ${unit}${n === 1 ? '' : 's'}`;
  return s >= 0 ? `${text} ago` : `in ${text}`;
}

export const short = (h: unknown, n = 12): string => (typeof h === 'string' && h ? h.slice(0, n) : '—');

/**
 * A source URL as people say it: `github.com/o/r` from `https://github.com/o/r.git`; paths and
 * other forms unchanged.
 */
export function sourceLabel(url: unknown): string {
  if (typeof url !== 'string' || !url) return '(no source)';
  const m = /^(?:https?|git|ssh):\/\/(?:[^@/]+@)?([^/]+)\/(.+?)(?:\.git)?\/?$/.exec(url);
  return m ? `${m[1]}/${m[2]}` : url;
}

/** `github.com/o/r@abc1234`, or the source alone when there is no commit. */
export function sourceAt(url: unknown, commit: unknown): string {
  const src = sourceLabel(url);
  return typeof commit === 'string' && commit ? `${src}@${commit.slice(0, 7)}` : src;
}

export const plural = (n: number, one: string, many = `${one}s`): string => `${n} ${n === 1 ? one : many}`;
