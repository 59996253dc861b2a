// A small Docker Engine API client: exactly the calls the driver makes, each one documented by the
// engine's own route. The API version is negotiated once: the engine's version capped at the
// newest one we know, and never older than 1.41 (Docker 20.10, what Debian 12 ships).
import type { IncomingMessage } from 'node:http';
import type { Readable } from 'node:stream';
import { Transport, jsonLines, query, readAll } from './transport.ts';
import { BuildFailedError, EngineError, ImageNotFoundError, TailBuffer } from './errors.ts';
import { FrameParser, type StreamName } from './mux.ts';
import type {
  ContainerCreateBody,
  ContainerInspect,
  ContainerSummary,
  EndpointConfig,
  EngineEvent,
  EngineInfo,
  Filters,
  ImageInspect,
  ImageSummary,
  Labels,
  NetworkCreateBody,
  NetworkInspect,
  VersionInfo,
  VolumeInspect,
} from './types.ts';

export const MIN_API = '1.41';
export const MAX_API = '1.47';

export const DEFAULT_SOCKET = '/var/run/docker.sock';

function apiNumber(v: string): number {
  const [major, minor] = v.split('.').map(Number);
  return (major ?? 0) * 1000 + (minor ?? 0);
}

/** The socket from DOCKER_HOST when it names a unix socket, else the standard one. */
export function socketFromEnv(env: NodeJS.ProcessEnv = process.env): string {
  const host = env.DOCKER_HOST;
  if (host?.startsWith('unix://')) return host.slice('unix://'.length);
  return DEFAULT_SOCKET;
}

export interface BuildOptions {
  /** Path of the Dockerfile inside the context. */
  dockerfile: string;
  tag?: string;
  labels?: Labels;
  buildArgs?: Record<string, string>;
  /** Multi-stage target. */
  target?: string;
  /** Resource caps of the build's RUN containers. */
  memoryBytes?: number;
  cpuQuota?: number;
  cpuPeriod?: number;
  /** Receives the build's output as it comes. */
  onOutput?: (text: string) => void;
  timeoutMs?: number;
  /** The manifest key named in a BuildFailedError. */
  field?: string;
}

export interface LogOptions {
  follow: boolean;
  /** Unix seconds (may be fractional). */
  since?: number;
  tail?: number | 'all';
  signal?: AbortSignal;
}

export class DockerEngine {
  readonly transport: Transport;
  private api: Promise<string> | null = null;

  constructor(socketPath: string = socketFromEnv()) {
    this.transport = new Transport(socketPath);
  }

  get socketPath(): string {
    return this.transport.socketPath;
  }

  close(): void {
    this.transport.close();
  }

  // ---- system ----------------------------------------------------------------------------

  /** GET /_ping: resolves when the engine answers, throws EngineUnreachableError otherwise. */
  async ping(timeoutMs = 5_000): Promise<void> {
    await this.transport.call({ method: 'GET', path: '/_ping', timeoutMs });
  }

  /** GET /version (unversioned, so it works whatever the engine's API range is). */
  version(): Promise<VersionInfo> {
    return this.transport.json<VersionInfo>({ method: 'GET', path: '/version', timeoutMs: 10_000 });
  }

  /** The API version prefix every other call uses. */
  private base(): Promise<string> {
    this.api ??= this.version().then(
      (v) => {
        if (apiNumber(v.ApiVersion) < apiNumber(MIN_API)) {
          throw new Error(`the Docker engine ${v.Version} speaks API ${v.ApiVersion}; dstack-webhost needs ${MIN_API} or newer`);
        }
        const chosen = apiNumber(v.ApiVersion) < apiNumber(MAX_API) ? v.ApiVersion : MAX_API;
        return `/v${chosen}`;
      },
      (err) => {
        this.api = null; // retry negotiation next time (the engine may come up later)
        throw err;
      },
    );
    return this.api;
  }

  async apiVersion(): Promise<string> {
    return (await this.base()).slice(2);
  }

  async info(): Promise<EngineInfo> {
    return this.transport.json<EngineInfo>({ method: 'GET', path: `${await this.base()}/info`, timeoutMs: 10_000 });
  }

  /**
   * GET /events: resolves once the engine accepted the subscription (so nothing that happens
   * afterwards is missed), with the live stream of parsed events; it ends when `signal` aborts.
   */
  async events(filters: Filters, signal: AbortSignal, since?: number): Promise<AsyncIterable<EngineEvent>> {
    const res = await this.transport.streaming({ method: 'GET', path: `${await this.base()}/events${query({ filters, since })}`, signal });
    return (async function* () {
      try {
        for await (const ev of jsonLines<EngineEvent>(res)) yield ev;
      } catch (err) {
        if (!signal.aborted) throw err;
      } finally {
        res.destroy();
      }
    })();
  }

  // ---- images ----------------------------------------------------------------------------

  /** GET /images/{ref}/json; null when the engine does not have it. */
  async inspectImage(ref: string): Promise<ImageInspect | null> {
    try {
      return await this.transport.json<ImageInspect>({ method: 'GET', path: `${await this.base()}/images/${encodeURIComponent(ref)}/json` });
    } catch (err) {
      if (err instanceof EngineError && err.statusCode === 404) return null;
      throw err;
    }
  }

  async listImages(filters: Filters): Promise<ImageSummary[]> {
    return this.transport.json<ImageSummary[]>({ method: 'GET', path: `${await this.base()}/images/json${query({ filters })}` });
  }

  /**
   * POST /images/create?fromImage=: pulls from a registry. The engine reports failures inside the
   * 200 stream, so every line is checked. Throws ImageNotFoundError naming `field`.
   */
  async pullImage(ref: string, opts: { onProgress?: (line: string) => void; timeoutMs?: number; field?: string } = {}): Promise<void> {
    const ac = new AbortController();
    const timer = setTimeout(() => ac.abort(), opts.timeoutMs ?? 600_000);
    try {
      let res: IncomingMessage;
      try {
        res = await this.transport.streaming({ method: 'POST', path: `${await this.base()}/images/create${query({ fromImage: ref })}`, signal: ac.signal });
      } catch (err) {
        if (err instanceof EngineError) throw new ImageNotFoundError(ref, err.engineMessage, opts.field);
        throw err;
      }
      for await (const line of jsonLines<{ status?: string; error?: string; errorDetail?: { message?: string } }>(res)) {
        if (line.error) throw new ImageNotFoundError(ref, line.errorDetail?.message ?? line.error, opts.field);
        if (line.status) opts.onProgress?.(line.status);
      }
    } catch (err) {
      if (ac.signal.aborted) throw new ImageNotFoundError(ref, `the pull did not finish in ${opts.timeoutMs ?? 600_000} ms`, opts.field);
      throw err;
    } finally {
      clearTimeout(timer);
    }
  }

  /** POST /images/create?fromSrc=-: a rootfs tarball becomes an image (no registry needed). Returns the image id. */
  async importImage(rootfs: Readable, opts: { repo: string; tag: string; changes?: string[]; message?: string }): Promise<string> {
    const path = `${await this.base()}/images/create${query({ fromSrc: '-', repo: opts.repo, tag: opts.tag, message: opts.message })}${(opts.changes ?? [])
      .map((c) => `&changes=${encodeURIComponent(c)}`)
      .join('')}`;
    const res = await this.transport.streaming({ method: 'POST', path, stream: rootfs });
    let id = '';
    for await (const line of jsonLines<{ status?: string; error?: string }>(res)) {
      if (line.error) throw new Error(`image import failed: ${line.error}`);
      if (line.status?.startsWith('sha256:')) id = line.status.trim();
    }
    if (!id) throw new Error('image import finished without an image id');
    return id;
  }

  /**
   * POST /build with a context tar. The legacy builder streams `{stream}` lines, `{aux: {ID}}` with
   * the result and `{error}` on failure (still with status 200). Returns the image id.
   */
  async buildImage(context: Readable, opts: BuildOptions): Promise<{ id: string; output: string }> {
    const output = new TailBuffer(32 * 1024);
    const note = (text: string) => {
      output.push(text);
      opts.onOutput?.(text);
    };
    const params = {
      dockerfile: opts.dockerfile,
      t: opts.tag,
      labels: opts.labels,
      buildargs: opts.buildArgs,
      target: opts.target,
      rm: true,
      forcerm: true,
      // Never reach a registry for a base image the engine already has; pulls happen only if missing.
      pull: false,
      memory: opts.memoryBytes,
      memswap: opts.memoryBytes, // no swap beyond the memory cap
      cpuquota: opts.cpuQuota,
      cpuperiod: opts.cpuPeriod,
    };
    const timeoutMs = opts.timeoutMs ?? 900_000;
    const ac = new AbortController();
    const timer = setTimeout(() => ac.abort(), timeoutMs);
    let id = '';
    try {
      let res: IncomingMessage;
      try {
        res = await this.transport.streaming({ method: 'POST', path: `${await this.base()}/build${query(params)}`, stream: context, signal: ac.signal });
      } catch (err) {
        if (err instanceof EngineError) throw new BuildFailedError(err.engineMessage, output.toString(), opts.field);
        throw err;
      }
      for await (const line of jsonLines<{ stream?: string; error?: string; errorDetail?: { message?: string }; aux?: { ID?: string }; status?: string }>(res)) {
        if (line.stream) note(line.stream);
        if (line.status) note(`${line.status}\n`);
        if (line.aux?.ID) id = line.aux.ID;
        if (line.error) {
          note(`${line.error}\n`);
          throw new BuildFailedError(line.errorDetail?.message ?? line.error, output.toString(), opts.field);
        }
      }
    } catch (err) {
      if (ac.signal.aborted) throw new BuildFailedError(`it did not finish in ${timeoutMs} ms`, output.toString(), opts.field);
      throw err;
    } finally {
      clearTimeout(timer);
    }
    if (!id) {
      // Older engines print "Successfully built <id>" instead of an aux record.
      const m = /Successfully built ([0-9a-f]{12,64})/.exec(output.toString());
      if (!m) throw new BuildFailedError('the engine reported no image id', output.toString(), opts.field);
      id = (await this.inspectImage(m[1]!))?.Id ?? '';
    }
    return { id, output: output.toString() };
  }

  /** POST /images/{id}/tag. */
  async tagImage(id: string, repo: string, tag: string): Promise<void> {
    await this.transport.call({ method: 'POST', path: `${await this.base()}/images/${encodeURIComponent(id)}/tag${query({ repo, tag })}` });
  }

  /** DELETE /images/{ref}; false when it did not exist. */
  async removeImage(ref: string, force = false): Promise<boolean> {
    try {
      await this.transport.call({ method: 'DELETE', path: `${await this.base()}/images/${encodeURIComponent(ref)}${query({ force })}` });
      return true;
    } catch (err) {
      if (err instanceof EngineError && err.statusCode === 404) return false;
      throw err;
    }
  }

  // ---- containers ------------------------------------------------------------------------

  /** POST /containers/create. Returns the id. */
  async createContainer(name: string, body: ContainerCreateBody): Promise<string> {
    const r = await this.transport.json<{ Id: string; Warnings?: string[] }>({
      method: 'POST',
      path: `${await this.base()}/containers/create${query({ name })}`,
      json: body,
    });
    return r.Id;
  }

  async startContainer(id: string): Promise<void> {
    await this.transport.call({ method: 'POST', path: `${await this.base()}/containers/${id}/start` });
  }

  /** POST /containers/{id}/stop: SIGTERM (or the image's stop signal), SIGKILL after `graceS`. */
  async stopContainer(id: string, graceS: number): Promise<void> {
    try {
      await this.transport.call({ method: 'POST', path: `${await this.base()}/containers/${id}/stop${query({ t: graceS })}`, timeoutMs: (graceS + 30) * 1000 });
    } catch (err) {
      if (err instanceof EngineError && (err.statusCode === 304 || err.statusCode === 404)) return; // already stopped / gone
      throw err;
    }
  }

  /** DELETE /containers/{id}; anonymous volumes go with it (`v`), named ones stay. */
  async removeContainer(id: string, opts: { force?: boolean } = {}): Promise<void> {
    try {
      await this.transport.call({ method: 'DELETE', path: `${await this.base()}/containers/${id}${query({ force: opts.force ?? false, v: true })}`, timeoutMs: 60_000 });
    } catch (err) {
      if (err instanceof EngineError && (err.statusCode === 404 || (err.statusCode === 409 && /already in progress/.test(err.engineMessage)))) return;
      throw err;
    }
  }

  async inspectContainer(id: string): Promise<ContainerInspect | null> {
    try {
      return await this.transport.json<ContainerInspect>({ method: 'GET', path: `${await this.base()}/containers/${id}/json` });
    } catch (err) {
      if (err instanceof EngineError && err.statusCode === 404) return null;
      throw err;
    }
  }

  async listContainers(filters: Filters, all = true): Promise<ContainerSummary[]> {
    return this.transport.json<ContainerSummary[]>({ method: 'GET', path: `${await this.base()}/containers/json${query({ all, filters })}` });
  }

  /** POST /containers/{id}/wait: resolves with the exit code when the condition is met. */
  async waitContainer(id: string, condition: 'not-running' | 'next-exit' | 'removed', signal?: AbortSignal): Promise<number> {
    const res = await this.transport.streaming({ method: 'POST', path: `${await this.base()}/containers/${id}/wait${query({ condition })}`, signal });
    const body = JSON.parse((await readAll(res)).toString('utf8')) as { StatusCode: number; Error?: { Message?: string } | null };
    return body.StatusCode;
  }

  /**
   * GET /containers/{id}/logs, demultiplexed (containers are created without a TTY). Resolves when
   * the stream ends: at once without `follow`, when the container stops with it, or on abort.
   */
  async logs(id: string, opts: LogOptions, onFrame: (stream: StreamName, chunk: Buffer) => void): Promise<void> {
    const params = { follow: opts.follow, stdout: true, stderr: true, since: opts.since, tail: opts.tail ?? 'all' };
    let res: IncomingMessage;
    try {
      res = await this.transport.streaming({ method: 'GET', path: `${await this.base()}/containers/${id}/logs${query(params)}`, signal: opts.signal });
    } catch (err) {
      if (opts.signal?.aborted) return;
      throw err;
    }
    const parser = new FrameParser();
    try {
      for await (const chunk of res as AsyncIterable<Buffer>) for (const f of parser.push(chunk)) onFrame(f.stream, f.payload);
    } catch (err) {
      if (!opts.signal?.aborted) throw err;
    }
  }

  /** The logs so far as text (both streams interleaved), bounded to the last `tail` lines. */
  async logsText(id: string, tail = 200): Promise<string> {
    let text = '';
    await this.logs(id, { follow: false, tail }, (_s, c) => (text += c.toString('utf8')));
    return text;
  }

  // ---- networks --------------------------------------------------------------------------

  async createNetwork(body: NetworkCreateBody): Promise<string> {
    const r = await this.transport.json<{ Id: string }>({ method: 'POST', path: `${await this.base()}/networks/create`, json: { CheckDuplicate: true, ...body } });
    return r.Id;
  }

  async inspectNetwork(idOrName: string): Promise<NetworkInspect | null> {
    try {
      return await this.transport.json<NetworkInspect>({ method: 'GET', path: `${await this.base()}/networks/${encodeURIComponent(idOrName)}` });
    } catch (err) {
      if (err instanceof EngineError && err.statusCode === 404) return null;
      throw err;
    }
  }

  async listNetworks(filters: Filters): Promise<NetworkInspect[]> {
    return this.transport.json<NetworkInspect[]>({ method: 'GET', path: `${await this.base()}/networks${query({ filters })}` });
  }

  async connectNetwork(network: string, container: string, endpoint: EndpointConfig = {}): Promise<void> {
    await this.transport.call({ method: 'POST', path: `${await this.base()}/networks/${encodeURIComponent(network)}/connect`, json: { Container: container, EndpointConfig: endpoint } });
  }

  async disconnectNetwork(network: string, container: string, force = true): Promise<void> {
    try {
      await this.transport.call({ method: 'POST', path: `${await this.base()}/networks/${encodeURIComponent(network)}/disconnect`, json: { Container: container, Force: force } });
    } catch (err) {
      if (err instanceof EngineError && (err.statusCode === 404 || /is not connected/.test(err.engineMessage))) return;
      throw err;
    }
  }

  async removeNetwork(idOrName: string): Promise<void> {
    try {
      await this.transport.call({ method: 'DELETE', path: `${await this.base()}/networks/${encodeURIComponent(idOrName)}` });
    } catch (err) {
      if (err instanceof EngineError && err.statusCode === 404) return;
      throw err;
    }
  }

  // ---- volumes ---------------------------------------------------------------------------

  async createVolume(body: { Name: string; Labels?: Labels; Driver?: 'local' }): Promise<VolumeInspect> {
    return this.transport.json<VolumeInspect>({ method: 'POST', path: `${await this.base()}/volumes/create`, json: { Driver: 'local', ...body } });
  }

  async inspectVolume(name: string): Promise<VolumeInspect | null> {
    try {
      return await this.transport.json<VolumeInspect>({ method: 'GET', path: `${await this.base()}/volumes/${encodeURIComponent(name)}` });
    } catch (err) {
      if (err instanceof EngineError && err.statusCode === 404) return null;
      throw err;
    }
  }

  async listVolumes(filters: Filters): Promise<VolumeInspect[]> {
    const r = await this.transport.json<{ Volumes: VolumeInspect[] | null }>({ method: 'GET', path: `${await this.base()}/volumes${query({ filters })}` });
    return r.Volumes ?? [];
  }

  async removeVolume(name: string, force = false): Promise<void> {
    try {
      await this.transport.call({ method: 'DELETE', path: `${await this.base()}/volumes/${encodeURIComponent(name)}${query({ force })}` });
    } catch (err) {
      if (err instanceof EngineError && err.statusCode === 404) return;
      throw err;
    }
  }
}
