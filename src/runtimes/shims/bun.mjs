// The bun shim: imports the tenant's entry and serves it with Bun.serve on a UNIX socket.
// Bun has no permission model: the driver runs it inside bubblewrap as the tenant's own user.
//
// WebSocket: when the default export is an object with a `websocket` member (Bun's own handler
// set: open/message/close), it is passed to Bun.serve, and a fetch handler upgrades with
// `ctx.upgrade(req, options)` (Bun's server.upgrade).
import { unlinkSync } from 'node:fs';
import { fileUrl, isProbe, makeCtx, PROBE_RESPONSE_INIT, startup, webHandler } from './common.mjs';
import { exchange } from './broker-net.mjs';

let server = null;
let stopping = false;

// Graceful stop: stop accepting, let in-flight requests finish (pendingRequests counts them,
// streamed bodies included), then exit; idle keep-alive connections do not hold it up.
function stop() {
  if (stopping) return;
  stopping = true;
  if (!server) process.exit(0);
  void server.stop(false);
  const poll = () => (server.pendingRequests === 0 ? process.exit(0) : setTimeout(poll, 10));
  poll();
}

const config = await startup(process.stdin, stop, (k, v) => (process.env[k] = v), (code) => process.exit(code));

let mod;
let handler;
try {
  mod = await import(fileUrl(config.entry));
  handler = webHandler(mod, config.entry);
} catch (err) {
  console.error(err);
  process.exit(1);
}

const ctx = makeCtx(config, exchange); // exchange: the key broker over node:net (broker-net.mjs)
ctx.upgrade = (req, options) => server.upgrade(req, options);
const websocket = mod.default && typeof mod.default === 'object' ? mod.default.websocket : undefined;

try {
  unlinkSync(config.socket); // a socket left by a crashed predecessor in the same folder
} catch {
  // nothing to remove
}

process.on('SIGTERM', stop);
process.on('SIGINT', stop);

server = Bun.serve({
  unix: config.socket,
  development: false,
  idleTimeout: 0, // long polls and slow streams are the app's business; the ingress owns timeouts
  maxRequestBodySize: Number.MAX_SAFE_INTEGER, // bodies stream; no 128 MB cap of our own
  ...(websocket ? { websocket } : {}),
  fetch(req) {
    if (isProbe(req.headers)) return new Response(null, PROBE_RESPONSE_INIT);
    return handler(req, ctx);
  },
  error(err) {
    console.error(err);
    return new Response('Internal Server Error', { status: 500 });
  },
});
