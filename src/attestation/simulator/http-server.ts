// HTTP transport of the simulated guest agent, dstack's "prpc" JSON mode (research/dstack.md §1.2):
// `POST /<Method>` with a JSON body or `GET /<Method>?field=value`; answers are JSON with a
// byte-correct Content-Length; failures are {"error": "..."} (pretty-printed, as dstack sends
// them) with status 400 or 500. The same handler serves the unix socket and the optional TCP
// port; PCCS routes are answered alongside (they cannot collide with method names).

import { lstatSync, existsSync, rmSync } from 'node:fs';
import { createConnection } from 'node:net';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { CollateralSource } from './collateral.ts';
import { RpcError, type SimulatedGuestAgent } from './guest-agent.ts';
import { handlePccs, isPccsPath } from './pccs.ts';

const MAX_BODY = 1 << 20;
/** Rocket, which serves the real agent, keeps idle connections for 10 s. */
const KEEP_ALIVE_MS = 10_000;

function sendJson(res: ServerResponse, status: number, value: unknown, pretty = false): void {
  const body = Buffer.from(pretty ? JSON.stringify(value, null, 2) : JSON.stringify(value), 'utf8');
  res.writeHead(status, { 'Content-Type': 'application/json', 'Content-Length': String(body.length) });
  res.end(body);
}

const sendError = (res: ServerResponse, status: number, message: string) => sendJson(res, status, { error: message }, true);

function readBody(req: IncomingMessage): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (c: Buffer) => {
      size += c.length;
      if (size > MAX_BODY) {
        reject(new RpcError(400, `request body larger than ${MAX_BODY} bytes`));
        req.destroy();
        return;
      }
      chunks.push(c);
    });
    req.on('end', () => resolve(Buffer.concat(chunks)));
    req.on('error', reject);
  });
}

/** Decodes the arguments of a prpc call: the query string for GET, the JSON body for POST. */
async function callArgs(req: IncomingMessage, url: URL): Promise<Record<string, unknown>> {
  if (req.method === 'GET') {
    const args: Record<string, unknown> = {};
    for (const [k, v] of url.searchParams) if (k !== 'json') args[k] = v;
    return args;
  }
  const body = (await readBody(req)).toString('utf8');
  const type = (req.headers['content-type'] ?? '').split(';')[0]!.trim().toLowerCase();
  // dstack reads anything but JSON as protobuf; the simulator speaks JSON only, and says so.
  if (type && type !== 'application/json' && !url.searchParams.has('json') && !/^\s*(\{|$)/.test(body)) {
    throw new RpcError(400, `unsupported Content-Type '${type}': the simulator speaks JSON only (send application/json)`);
  }
  if (body.trim() === '') return {};
  let parsed: unknown;
  try {
    parsed = JSON.parse(body);
  } catch (e) {
    throw new RpcError(400, `invalid JSON body: ${(e as Error).message}`);
  }
  if (!parsed || typeof parsed !== 'object' || Array.isArray(parsed)) throw new RpcError(400, 'request body must be a JSON object');
  return parsed as Record<string, unknown>;
}

export interface HandlerParts {
  agent: SimulatedGuestAgent;
  collateral: CollateralSource;
}

export function createHandler(p: HandlerParts, opts: { pccsOnly?: boolean } = {}) {
  return async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    let url: URL;
    try {
      url = new URL(req.url ?? '/', 'http://localhost');
    } catch {
      return sendError(res, 400, 'bad request URL');
    }
    try {
      if (isPccsPath(url.pathname)) return handlePccs(req, res, url, p.collateral);
      if (opts.pccsOnly) return sendError(res, 404, `not found: ${url.pathname} (this port serves only the mock PCCS)`);
      if (req.method !== 'GET' && req.method !== 'POST') {
        res.setHeader('Allow', 'GET, POST');
        return sendError(res, 405, `method ${req.method ?? ''} not allowed`);
      }
      const args = await callArgs(req, url);
      sendJson(res, 200, p.agent.call(url.pathname.replace(/^\/+/, ''), args));
    } catch (e) {
      if (res.headersSent) return void res.destroy();
      if (e instanceof RpcError) return sendError(res, e.status, e.message);
      sendError(res, 500, (e as Error).message);
    }
  };
}

export function createSimulatorServer(handler: ReturnType<typeof createHandler>): Server {
  const server = createServer((req, res) => void handler(req, res));
  server.keepAliveTimeout = KEEP_ALIVE_MS;
  return server;
}

/** Refuses to replace a live socket or a non-socket file; removes a stale socket left by a crash. */
async function clearStaleSocket(socketPath: string): Promise<void> {
  if (!existsSync(socketPath)) return;
  if (!lstatSync(socketPath).isSocket()) throw new Error(`${socketPath} exists and is not a socket`);
  const live = await new Promise<boolean>((resolve) => {
    const c = createConnection({ path: socketPath });
    c.once('connect', () => {
      c.destroy();
      resolve(true);
    });
    c.once('error', () => resolve(false));
  });
  if (live) throw new Error(`${socketPath} is in use by another process`);
  rmSync(socketPath, { force: true });
}

export async function listenUnix(server: Server, socketPath: string): Promise<void> {
  await clearStaleSocket(socketPath);
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(socketPath, () => {
      server.off('error', reject);
      resolve();
    });
  });
}

export async function listenTcp(server: Server, port: number, host: string): Promise<number> {
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const addr = server.address();
  if (!addr || typeof addr === 'string') throw new Error('TCP listener has no port');
  return addr.port;
}

export function closeServer(server: Server): Promise<void> {
  return new Promise((resolve) => {
    if (!server.listening) return resolve();
    server.close(() => resolve());
    server.closeAllConnections();
  });
}
