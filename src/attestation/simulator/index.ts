// Starts the built-in simulator of the dstack guest agent: a guest-agent API on a unix socket (and
// optionally an HTTP port) whose quotes are signed under a development PKI and verify with
// dcap-qvl against that PKI's root (never against Intel's), plus a mock PCCS serving matching
// collateral. State (seed and certificates) persists in `dir`, so restarts keep the same root CA,
// app keys and app-id.

import { createHash } from 'node:crypto';
import type { Server } from 'node:http';
import { rmSync } from 'node:fs';
import path from 'node:path';
import type { Collateral } from '../../verify/bundle.ts';
import { bytesToHex, hexToBytes } from '../hex.ts';
import { CollateralSource, type TcbStatus } from './collateral.ts';
import { SimulatedGuestAgent } from './guest-agent.ts';
import { closeServer, createHandler, createSimulatorServer, listenTcp, listenUnix } from './http-server.ts';
import { loadOrIssuePki } from './pki.ts';
import { ensureStateDir, loadOrCreateSeed } from './state.ts';

export { DEFAULT_IMAGE_REF, DEFAULT_APP_NAME } from './boot.ts';
export { SIMULATED_ADVISORY, type TcbStatus } from './collateral.ts';
export { SimulatedGuestAgent } from './guest-agent.ts';

export interface SimulatorOptions {
  /** State folder (created 0700): seed and certificates. */
  dir: string;
  /** Unix socket of the guest-agent API; default `<dir>/dstack.sock`. */
  socketPath?: string;
  /** Also serve the guest-agent API (and the mock PCCS) over HTTP on this port; 0 picks a free one. */
  httpPort?: number;
  /** Address of the HTTP listeners; default 127.0.0.1. */
  httpHost?: string;
  /** Port of the mock PCCS when there is no `httpPort` (it then has a listener of its own); default 0. */
  pccsPort?: number;
  /** The daemon image app-compose names; default DEFAULT_IMAGE_REF (digest-pinned placeholder). */
  imageRef?: string;
  /** app-compose `name`; default "dstack-webhost". */
  appName?: string;
  /** 32-byte seed (bytes or hex) for a new state folder; refused if the folder holds another. */
  seed?: Uint8Array | string;
  /** TCB status the collateral assigns to the simulated platform; default UpToDate. */
  tcbStatus?: TcbStatus;
}

export interface Simulator {
  /** Unix socket path of the guest-agent API (what DSTACK_SIMULATOR_ENDPOINT may name). */
  endpoint: string;
  /** `http://host:port` of the guest-agent API, when `httpPort` was given. */
  httpUrl?: string;
  /** Base URL of the mock PCCS, e.g. for dcap-qvl's getCollateral(pccsUrl, quote). */
  pccsUrl: string;
  /** DER of the development root CA: the only root these quotes verify against. */
  rootCaDer: Uint8Array;
  /** Lowercase hex SHA-256 of rootCaDer. */
  rootCaFingerprint: string;
  /** Collateral for the simulated platform, valid now (regenerated daily). */
  collateral(): Collateral;
  /** In-process access to the agent (same state as the socket). */
  agent: SimulatedGuestAgent;
  close(): Promise<void>;
}

export async function startSimulator(o: SimulatorOptions): Promise<Simulator> {
  const dir = path.resolve(o.dir);
  ensureStateDir(dir);
  const givenSeed = typeof o.seed === 'string' ? hexToBytes(o.seed, 'seed') : o.seed;
  const seed = loadOrCreateSeed(dir, givenSeed);
  const pki = loadOrIssuePki(dir, seed);
  const agent = new SimulatedGuestAgent({ seed, pki, imageRef: o.imageRef, appName: o.appName });
  const collateral = new CollateralSource(pki, o.tcbStatus);
  const host = o.httpHost ?? '127.0.0.1';
  const urlHost = host.includes(':') ? `[${host}]` : host;

  const servers: Server[] = [];
  const socketPath = path.resolve(o.socketPath ?? path.join(dir, 'dstack.sock'));
  let socketCreated = false;
  try {
    const unix = createSimulatorServer(createHandler({ agent, collateral }));
    servers.push(unix);
    await listenUnix(unix, socketPath);
    socketCreated = true;
    let httpUrl: string | undefined;
    let pccsUrl: string;
    if (o.httpPort !== undefined) {
      const http = createSimulatorServer(createHandler({ agent, collateral }));
      servers.push(http);
      httpUrl = `http://${urlHost}:${await listenTcp(http, o.httpPort, host)}`;
      pccsUrl = httpUrl;
    } else {
      // No HTTP port asked for: the PCCS gets a loopback listener that serves nothing else.
      const pccs = createSimulatorServer(createHandler({ agent, collateral }, { pccsOnly: true }));
      servers.push(pccs);
      pccsUrl = `http://${urlHost}:${await listenTcp(pccs, o.pccsPort ?? 0, host)}`;
    }
    let closed = false;
    return {
      endpoint: socketPath,
      httpUrl,
      pccsUrl,
      rootCaDer: pki.root.der.slice(),
      rootCaFingerprint: bytesToHex(createHash('sha256').update(pki.root.der).digest()),
      collateral: () => ({ ...collateral.current().collateral }),
      agent,
      async close() {
        if (closed) return;
        closed = true;
        await Promise.all(servers.map(closeServer));
        rmSync(socketPath, { force: true });
      },
    };
  } catch (e) {
    await Promise.all(servers.map(closeServer));
    if (socketCreated) rmSync(socketPath, { force: true });
    throw e;
  }
}
