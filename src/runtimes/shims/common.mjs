// Shared by the deno, node and bun shims (plain JS: each runtime runs this file as it is).
// What lives here is the part of the handler contract that must behave the same everywhere:
// the startup configuration on stdin, the readiness probe, the ctx object and how an entry
// module's exports become a handler.

/** The daemon's readiness probe. The ingress strips every incoming x-webhost-* header, so only the daemon can send it. */
export const PROBE_HEADER = 'x-webhost-probe';

export function isProbe(headers) {
  return headers.get(PROBE_HEADER) === '1';
}

export const PROBE_RESPONSE_INIT = { status: 204 };

/** file:// URL of an absolute path; every segment escaped so '#', '?' and '%' in names survive. */
export function fileUrl(path) {
  return 'file://' + path.split('/').map(encodeURIComponent).join('/');
}

function parseConfig(line) {
  const c = JSON.parse(line);
  for (const key of ['entry', 'socket', 'dataDir']) {
    if (typeof c[key] !== 'string' || !c[key]) throw new Error(`startup configuration: ${key} is missing`);
  }
  if (!c.env || typeof c.env !== 'object') throw new Error('startup configuration: env is missing');
  if (!c.project || typeof c.project.name !== 'string') throw new Error('startup configuration: project is missing');
  return c;
}

/**
 * Reads the startup configuration (the first line of stdin: JSON) and then keeps reading, so that
 * the end of stdin can be the daemon's "stop now, gracefully" signal. The pipe also closes when the
 * daemon itself dies, so a tenant never outlives its daemon for long.
 * `stream` is any async iterable of bytes (Deno.stdin.readable, process.stdin).
 */
export function readStartup(stream, onClose) {
  return new Promise((resolve, reject) => {
    void (async () => {
      const decoder = new TextDecoder();
      let text = '';
      let done = false;
      try {
        for await (const chunk of stream) {
          if (done) continue;
          text += decoder.decode(chunk, { stream: true });
          const nl = text.indexOf('\n');
          if (nl >= 0) {
            done = true;
            try {
              resolve(parseConfig(text.slice(0, nl)));
            } catch (err) {
              reject(err);
            }
            text = '';
          }
        }
      } catch (err) {
        if (!done) reject(err);
      }
      if (!done) reject(new Error('stdin closed before the startup configuration arrived'));
      else onClose();
    })();
  });
}

/**
 * ctx as the handler contract defines it: the project's env, its data folder, its identity, and
 * the app key (sign, receipt, quote) through the daemon's broker socket. `exchange(path, line)`
 * sends one request line and resolves with the answer line: each shim brings its own socket API.
 */
export function makeCtx(config, exchange) {
  const broker = brokerClient(config.broker, exchange);
  return {
    env: { ...config.env },
    dataDir: config.dataDir,
    project: { name: config.project.name, deployment: config.project.deployment ?? null },
    /** Ed25519 signature of `data` with the project's app key: { signature, publicKey } (hex). */
    async sign(data) {
      const r = await broker('sign', { data: toBase64(toBytes(data, 'ctx.sign')) });
      return { signature: r.signature, publicKey: r.public_key };
    },
    /** A receipt for `payload` (e.g. the exact response body), signed by the daemon with the app key. */
    async receipt(payload) {
      const r = await broker('receipt', { payload_sha256: await sha256Hex(toBytes(payload, 'ctx.receipt')) });
      return r.receipt;
    },
    /** A fresh TDX quote binding this deployment, the app key and SHA-256 of `data` (attested projects only). */
    async quote(data) {
      const r = await broker('quote', { data_sha256: await sha256Hex(toBytes(data, 'ctx.quote')) });
      return { quote: r.quote, preimage: r.preimage, report_data: r.report_data, event_log: r.event_log };
    },
  };
}

/** How long a broker request may take (a quote on real hardware takes a moment). */
export const BROKER_TIMEOUT_MS = 30_000;

function brokerClient(path, exchange) {
  return async (op, fields) => {
    if (typeof path !== 'string' || !path || !exchange) throw new Error(`ctx.${op}: this instance has no key broker`);
    let line;
    try {
      line = await exchange(path, JSON.stringify({ op, ...fields }), BROKER_TIMEOUT_MS);
    } catch (err) {
      const e = new Error(`ctx.${op}: the daemon's key broker at ${path} did not answer (${err && (err.code || err.name)}: ${err && err.message}); the app runs without one (e.g. a test harness)`);
      e.code = 'broker_unreachable';
      throw e;
    }
    const r = JSON.parse(line);
    if (!r.ok) {
      const e = new Error(`ctx.${op}: ${r.error}`);
      e.code = r.code;
      throw e;
    }
    return r;
  };
}

function toBytes(data, what) {
  if (typeof data === 'string') return new TextEncoder().encode(data);
  if (data instanceof Uint8Array) return data;
  if (data instanceof ArrayBuffer) return new Uint8Array(data);
  if (ArrayBuffer.isView(data)) return new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
  throw new TypeError(`${what} takes a string or bytes (Uint8Array, ArrayBuffer)`);
}

function toBase64(bytes) {
  let s = '';
  for (let i = 0; i < bytes.length; i += 0x8000) s += String.fromCharCode.apply(null, bytes.subarray(i, i + 0x8000));
  return btoa(s);
}

async function sha256Hex(bytes) {
  const d = new Uint8Array(await crypto.subtle.digest('SHA-256', bytes));
  return Array.from(d, (b) => b.toString(16).padStart(2, '0')).join('');
}

/**
 * The web-standard handler of an entry module: a default-exported function (req, ctx), or a
 * default-exported object with fetch(req, ctx). Returns a function (req, ctx) => Response.
 */
export function webHandler(mod, entry) {
  const d = mod.default;
  if (typeof d === 'function') return (req, ctx) => d(req, ctx);
  if (d && typeof d === 'object' && typeof d.fetch === 'function') return (req, ctx) => d.fetch(req, ctx);
  throw new Error(
    `${entry}: the entry must default-export a handler function (req, ctx) => Response, or an object with a fetch(req, ctx) method`,
  );
}

/**
 * Every shim's first step: the startup configuration from stdin (a bad one exits with 70, which the
 * driver reports as a bad configuration), then the project env copied into the process env with
 * `setEnv`. The env reaches the process here, not at exec, so a project variable (LD_PRELOAD,
 * NODE_OPTIONS, DENO_DIR, BUN_*, ...) can never reconfigure the runtime or the sandbox launcher.
 */
export async function startup(stream, onClose, setEnv, exit) {
  let config;
  try {
    config = await readStartup(stream, onClose);
  } catch (err) {
    console.error('[webhost] bad startup configuration:', err?.message ?? err);
    exit(70);
  }
  applyEnv(config.env, setEnv);
  return config;
}

/** Copies the project env into the process env (see each shim for why this happens here and not at exec). */
export function applyEnv(env, set) {
  for (const [k, v] of Object.entries(env)) {
    try {
      set(k, String(v));
    } catch (err) {
      console.error(`[webhost] env variable ${JSON.stringify(k)} could not be set: ${err && err.message}`);
    }
  }
}
