// Content negotiation for `/`: browsers get the HTML listing, everything else keeps the JSON the
// API has always answered. Only an explicit preference for HTML over JSON counts, so `curl`,
// `fetch()` with no Accept (`*/*`) and callers that ask for JSON all still get JSON.

interface Range {
  type: string;
  q: number;
}

function parseAccept(header: string): Range[] {
  const out: Range[] = [];
  for (const part of header.split(',')) {
    const [type, ...params] = part.split(';').map((s) => s.trim().toLowerCase());
    if (!type) continue;
    let q = 1;
    for (const p of params) {
      const m = /^q=([0-9.]+)$/.exec(p);
      if (m) q = Math.min(Math.max(Number(m[1]) || 0, 0), 1);
    }
    out.push({ type, q });
  }
  return out;
}

const best = (ranges: Range[], types: string[]): number => Math.max(-1, ...ranges.filter((r) => types.includes(r.type)).map((r) => r.q));

/** True when the caller names HTML and ranks it above JSON (wildcards rank neither). */
export function prefersHtml(accept: string | undefined): boolean {
  if (!accept) return false;
  const ranges = parseAccept(accept);
  const html = best(ranges, ['text/html', 'application/xhtml+xml']);
  const json = best(ranges, ['application/json']);
  return html > 0 && html > json;
}
