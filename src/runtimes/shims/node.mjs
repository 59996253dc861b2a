// The node shim: imports the tenant's entry and serves it with node:http on a UNIX socket.
// Run under Node's permission model (fs reads/writes scoped by the driver, no child processes,
// no workers, no addons).
//
// Two handler forms:
//  - web-standard: the default export is a function (req: Request, ctx) => Response, or an
//    object with fetch(req, ctx). Request and response bodies are streamed both ways.
//  - node-style (the reference's form): the default export (module.exports for CommonJS) is a
//    function DECLARING 3 OR MORE PARAMETERS, (req, res, env) — called with node's own
//    IncomingMessage and ServerResponse, then env, then ctx. The rule is Function.length, so
//    parameters with default values or a rest parameter do not count.
// WebSocket (or any Upgrade): a named export `upgrade(req, socket, head, ctx)`, called with
// node's 'upgrade' event arguments. Without it, upgrade requests are refused.
import { unlinkSync } from 'node:fs';
import http from 'node:http';
import { Readable } from 'node:stream';
import { fileUrl, makeCtx, PROBE_HEADER, startup, webHandler } from './common.mjs';
import { exchange } from './broker-net.mjs';

let server = null;
let stopping = false;
let inflight = 0;

function maybeExit() {
  if (stopping && inflight === 0) process.exit(0);
}

// Graceful stop: stop accepting, let in-flight requests finish, then exit (idle keep-alive
// connections do not hold the process up).
function stop() {
  if (stopping) return;
  stopping = true;
  if (!server) process.exit(0);
  server.close();
  server.closeIdleConnections();
  maybeExit();
}

const config = await startup(process.stdin, stop, (k, v) => (process.env[k] = v), (code) => process.exit(code));

let mod;
try {
  mod = await import(fileUrl(config.entry));
} catch (err) {
  console.error(err);
  process.exit(1);
}

const ctx = makeCtx(config, exchange); // exchange: the key broker over node:net (broker-net.mjs)
const exported = mod.default;
const nodeStyle = typeof exported === 'function' && exported.length >= 3;
let web = null;
if (!nodeStyle) {
  try {
    web = webHandler(mod, config.entry);
  } catch (err) {
    console.error(err.message);
    process.exit(1);
  }
}

function requestUrl(req) {
  try {
    return new URL(req.url, `http://${req.headers.host || 'localhost'}`);
  } catch {
    return new URL(req.url, 'http://localhost');
  }
}

function toRequest(req, signal) {
  const headers = new Headers();
  const raw = req.rawHeaders;
  for (let i = 0; i < raw.length; i += 2) {
    try {
      headers.append(raw[i], raw[i + 1]);
    } catch {
      // a header undici refuses: dropped, as a browser would
    }
  }
  const hasBody = req.method !== 'GET' && req.method !== 'HEAD';
  return new Request(requestUrl(req), {
    method: req.method,
    headers,
    body: hasBody ? Readable.toWeb(req) : undefined,
    duplex: 'half',
    signal,
  });
}

function waitWritable(res) {
  return new Promise((resolve) => {
    const done = () => {
      res.off('drain', done);
      res.off('close', done);
      resolve();
    };
    res.on('drain', done);
    res.on('close', done);
  });
}

async function sendResponse(res, response) {
  if (!(response instanceof Response)) throw new TypeError('the handler did not return a Response');
  res.statusCode = response.status;
  if (response.statusText) res.statusMessage = response.statusText;
  for (const [name, value] of response.headers) {
    if (name !== 'set-cookie') res.setHeader(name, value);
  }
  const cookies = response.headers.getSetCookie();
  if (cookies.length) res.setHeader('set-cookie', cookies); // each one its own header line
  if (!response.body) {
    res.end();
    return;
  }
  const reader = response.body.getReader();
  res.on('close', () => {
    if (!res.writableFinished) reader.cancel().catch(() => {});
  });
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    if (res.destroyed) return;
    if (!res.write(value)) await waitWritable(res);
  }
  res.end();
}

function fail(res, err) {
  console.error(err);
  if (!res.headersSent) {
    res.statusCode = 500;
    res.setHeader('content-type', 'text/plain');
    res.end('Internal Server Error');
  } else {
    res.destroy();
  }
}

async function handle(req, res) {
  if (nodeStyle) {
    await exported(req, res, ctx.env, ctx);
    return;
  }
  const aborter = new AbortController();
  res.on('close', () => {
    if (!res.writableFinished) aborter.abort();
  });
  const response = await web(toRequest(req, aborter.signal), ctx);
  await sendResponse(res, response);
}

server = http.createServer({ requestTimeout: 0 }, (req, res) => {
  if (req.headers[PROBE_HEADER] === '1') {
    res.statusCode = 204;
    res.end();
    return;
  }
  inflight++;
  res.on('close', () => {
    inflight--;
    maybeExit();
  });
  handle(req, res).catch((err) => fail(res, err));
});

if (typeof mod.upgrade === 'function') {
  server.on('upgrade', (req, socket, head) => {
    try {
      mod.upgrade(req, socket, head, ctx);
    } catch (err) {
      console.error(err);
      socket.destroy();
    }
  });
}

process.on('SIGTERM', stop);
process.on('SIGINT', stop);

try {
  unlinkSync(config.socket); // a socket left by a crashed predecessor in the same folder
} catch {
  // nothing to remove
}
server.listen(config.socket);
