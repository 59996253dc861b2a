// Fetching JSON from a daemon's API with its error shape ({error, code, field}) turned into an
// Error whose message is fit to show (as text) to a person.

export class ApiError extends Error {
  readonly status: number;
  readonly code: string;
  readonly field: string | undefined;
  constructor(status: number, code: string, message: string, field?: string) {
    super(message);
    this.status = status;
    this.code = code;
    this.field = field;
  }
}

export async function fetchJson<T = unknown>(url: string, init: RequestInit = {}): Promise<T> {
  let res: Response;
  try {
    res = await fetch(url, { ...init, headers: { accept: 'application/json', ...(init.headers as Record<string, string> | undefined) } });
  } catch (e) {
    throw new ApiError(0, 'network', `could not reach ${url}: ${(e as Error).message}`);
  }
  const text = await res.text();
  let body: unknown;
  try {
    body = text ? JSON.parse(text) : null;
  } catch {
    throw new ApiError(res.status, 'not_json', `${url} answered HTTP ${res.status} with something other than JSON`);
  }
  if (!res.ok) {
    const b = (body ?? {}) as { error?: unknown; code?: unknown; field?: unknown };
    const msg = typeof b.error === 'string' ? b.error : `HTTP ${res.status}`;
    throw new ApiError(res.status, typeof b.code === 'string' ? b.code : 'http_error', msg, typeof b.field === 'string' ? b.field : undefined);
  }
  return body as T;
}

/** Runs `fn` over `items` with at most `limit` at a time. */
export async function mapLimit<T, R>(items: readonly T[], limit: number, fn: (t: T) => Promise<R>): Promise<R[]> {
  const out: R[] = new Array(items.length);
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const i = next++;
      out[i] = await fn(items[i]!);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return out;
}
