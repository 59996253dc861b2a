// What can go wrong talking to the Docker engine, as typed errors. The transport throws the first
// two; the client adds the image and build ones so callers can tell "fix your manifest" (4xx)
// from "the engine is down" (503) without parsing messages.
import { HttpError } from '../../../lib/http-error.ts';

/** Nothing answers on the socket: the engine is not running, or we may not open its socket. */
export class EngineUnreachableError extends HttpError {
  readonly socketPath: string;
  constructor(socketPath: string, cause: NodeJS.ErrnoException) {
    super(
      503,
      'docker_unavailable',
      `the Docker engine is not reachable on ${socketPath} (${cause.code ?? cause.message}); start it (scripts/start-dockerd.sh) or configure the socket path`,
    );
    this.socketPath = socketPath;
  }
}

/** The engine answered with an error status. `engineMessage` is its own words. */
export class EngineError extends Error {
  readonly statusCode: number;
  readonly engineMessage: string;
  readonly method: string;
  readonly path: string;
  constructor(statusCode: number, engineMessage: string, method: string, path: string) {
    super(`Docker engine: ${method} ${path.split('?')[0]} failed with ${statusCode}: ${engineMessage}`);
    this.statusCode = statusCode;
    this.engineMessage = engineMessage;
    this.method = method;
    this.path = path;
  }
}

/** A request or stream that did not finish in time. */
export class EngineTimeoutError extends HttpError {
  constructor(what: string, ms: number) {
    super(504, 'docker_timeout', `the Docker engine did not finish ${what} within ${ms} ms`);
  }
}

/** An image that is neither present locally nor pullable. `field` names the manifest key it came from. */
export class ImageNotFoundError extends HttpError {
  readonly ref: string;
  constructor(ref: string, detail: string, field = 'image') {
    super(422, 'image_not_found', `image ${JSON.stringify(ref)} is not available: ${detail}`, field);
    this.ref = ref;
  }
}

/** A build that failed; `output` is what the build printed (bounded), so the developer sees why. */
export class BuildFailedError extends HttpError {
  readonly output: string;
  constructor(message: string, output: string, field = 'dockerfile') {
    super(422, 'build_failed', `the image build failed: ${message}`, field, { output });
    this.output = output;
  }
}

/** Keeps the last `max` bytes of a growing text, for error reports that must stay small. */
export class TailBuffer {
  private chunks: string[] = [];
  private size = 0;
  private readonly max: number;
  constructor(max = 16 * 1024) {
    this.max = max;
  }

  push(text: string): void {
    this.chunks.push(text);
    this.size += text.length;
    while (this.size > this.max && this.chunks.length > 1) this.size -= this.chunks.shift()!.length;
  }

  toString(): string {
    const all = this.chunks.join('');
    return all.length > this.max ? all.slice(all.length - this.max) : all;
  }
}
