// The deno shim: imports the tenant's entry and serves it with Deno.serve on a UNIX socket.
// Run by `deno run` with permission flags the driver computes (read: source, data, run folder,
// this folder; write: data, run folder; net; env; no run/ffi/sys).
import { fileUrl, isProbe, makeCtx, PROBE_RESPONSE_INIT, startup, webHandler } from './common.mjs';

let server = null;
let stopping = false;

// Graceful stop: stop accepting, let in-flight requests finish (Deno's shutdown does both), exit.
function stop() {
  if (stopping) return;
  stopping = true;
  if (!server) Deno.exit(0);
  server.shutdown().then(() => Deno.exit(0), () => Deno.exit(0));
}

const config = await startup(Deno.stdin.readable, stop, (k, v) => Deno.env.set(k, v), Deno.exit);

let handler;
try {
  handler = webHandler(await import(fileUrl(config.entry)), config.entry);
} catch (err) {
  console.error(err);
  Deno.exit(1);
}

// The key broker (ctx.sign, ctx.receipt, ctx.quote): one request line, one answer line. Deno lets
// this connect because the run folder holding broker.sock is in --allow-read/--allow-write.
async function exchange(path, line, timeoutMs) {
  const conn = await Deno.connect({ transport: 'unix', path });
  const timer = setTimeout(() => conn.close(), timeoutMs);
  try {
    const out = new TextEncoder().encode(line + '\n');
    for (let off = 0; off < out.length; ) off += await conn.write(out.subarray(off));
    const decoder = new TextDecoder();
    const buf = new Uint8Array(65536);
    let text = '';
    for (;;) {
      const n = await conn.read(buf);
      if (n === null) throw Object.assign(new Error('closed without an answer'), { code: 'ECONNRESET' });
      text += decoder.decode(buf.subarray(0, n), { stream: true });
      const nl = text.indexOf('\n');
      if (nl >= 0) return text.slice(0, nl);
    }
  } finally {
    clearTimeout(timer);
    try {
      conn.close();
    } catch {
      // closed by the timer
    }
  }
}

const ctx = makeCtx(config, exchange);
try {
  Deno.removeSync(config.socket); // a socket left by a crashed predecessor in the same folder
} catch {
  // nothing to remove
}

Deno.addSignalListener('SIGTERM', stop);
Deno.addSignalListener('SIGINT', stop);

server = Deno.serve(
  {
    path: config.socket,
    onListen() {},
    onError(err) {
      console.error(err);
      return new Response('Internal Server Error', { status: 500 });
    },
  },
  (req) => (isProbe(req.headers) ? new Response(null, PROBE_RESPONSE_INIT) : handler(req, ctx)),
);
