// Compose variable interpolation (`$VAR`, `${VAR}`, `${VAR:-default}`, `${VAR-default}`,
// `${VAR:?error}`, `${VAR?error}`, `${VAR:+alt}`, `${VAR+alt}`, `$$` for a literal `$`). The
// variables come ONLY from the project's own env (plus WEBHOST_DATA, the project's data folder):
// docker-compose would read the shell's environment, which here is the daemon's, token included.
import { badRequest } from '../../../lib/http-error.ts';

const NAME = /^[A-Za-z_][A-Za-z0-9_]*/;

export interface InterpolationResult {
  value: unknown;
  /** Variables that were referenced but not set (substituted by ''). */
  missing: string[];
}

function expand(text: string, vars: Readonly<Record<string, string>>, field: string, missing: Set<string>): string {
  let out = '';
  let i = 0;
  while (i < text.length) {
    const c = text[i]!;
    if (c !== '$') {
      out += c;
      i++;
      continue;
    }
    const next = text[i + 1];
    if (next === '$') {
      out += '$';
      i += 2;
      continue;
    }
    if (next === '{') {
      // Find the matching brace (defaults may hold nested ${...}).
      let depth = 1;
      let j = i + 2;
      while (j < text.length && depth > 0) {
        if (text[j] === '{') depth++;
        else if (text[j] === '}') depth--;
        if (depth > 0) j++;
      }
      if (depth !== 0) throw badRequest('invalid_compose', `'${field}': unterminated \${ in ${JSON.stringify(text.slice(0, 120))}`, field);
      const body = text.slice(i + 2, j);
      out += substitute(body, vars, field, missing);
      i = j + 1;
      continue;
    }
    const m = NAME.exec(text.slice(i + 1));
    if (m) {
      const name = m[0];
      const v = vars[name];
      if (v === undefined) missing.add(name);
      out += v ?? '';
      i += 1 + name.length;
      continue;
    }
    // A lone '$' followed by something that is not a name is kept (compose does the same).
    out += '$';
    i++;
  }
  return out;
}

function substitute(body: string, vars: Readonly<Record<string, string>>, field: string, missing: Set<string>): string {
  const m = NAME.exec(body);
  if (!m) throw badRequest('invalid_compose', `'${field}': invalid interpolation \${${body.slice(0, 60)}}`, field);
  const name = m[0];
  const rest = body.slice(name.length);
  const v = vars[name];
  if (rest === '') {
    if (v === undefined) missing.add(name);
    return v ?? '';
  }
  const op = /^(:?[-?+])/.exec(rest)?.[1];
  if (!op) throw badRequest('invalid_compose', `'${field}': invalid interpolation \${${body.slice(0, 60)}}`, field);
  const arg = rest.slice(op.length);
  const unsetOrEmpty = v === undefined || v === '';
  const unset = v === undefined;
  const absent = op.startsWith(':') ? unsetOrEmpty : unset;
  switch (op.replace(':', '')) {
    case '-':
      return absent ? expand(arg, vars, field, missing) : v!;
    case '?':
      if (absent) throw badRequest('missing_variable', `'${field}': required variable ${name} is not set in the project's env${arg ? `: ${arg}` : ''}`, field);
      return v!;
    default: // '+'
      return absent ? '' : expand(arg, vars, field, missing);
  }
}

/** Interpolates every string value (never keys) of a parsed compose document. */
export function interpolate(doc: unknown, vars: Readonly<Record<string, string>>): InterpolationResult {
  const missing = new Set<string>();
  const walk = (v: unknown, field: string): unknown => {
    if (typeof v === 'string') return expand(v, vars, field, missing);
    if (Array.isArray(v)) return v.map((x, i) => walk(x, `${field}[${i}]`));
    if (v && typeof v === 'object') {
      const out: Record<string, unknown> = {};
      for (const [k, x] of Object.entries(v as Record<string, unknown>)) {
        // Extension fields (x-*) hold anything, including text with '$' meant literally.
        out[k] = k.startsWith('x-') ? x : walk(x, field ? `${field}.${k}` : k);
      }
      return out;
    }
    return v;
  };
  return { value: walk(doc, ''), missing: [...missing].sort() };
}
