// Keeps one instance of one deployment running: restarts it when it crashes, with exponential
// backoff (reset once it has stayed up a while), and never restarts one that was stopped on
// purpose. A restart reuses the same runDir, so socketPath never changes while the supervisor
// lives: the ingress keeps pointing at it.
//
// Zero-downtime swaps are one supervisor per deployment: start the new one (start() resolves
// when it answers), switch traffic to its socketPath, then stop() the old one, which lets its
// in-flight requests finish within the grace period.
import path from 'node:path';
import type { Instance, InstanceSpec, RuntimeDriver } from './driver.ts';
import { SOCKET_NAME } from './view.ts';

export type SupervisorStatus = 'starting' | 'running' | 'restarting' | 'stopped' | 'failed';

export interface Backoff {
  /** Delay before the first restart. */
  initialMs: number;
  /** Each further consecutive crash multiplies the delay by this. */
  factor: number;
  maxMs: number;
  /** An instance that stayed up this long resets the delay to initialMs. */
  resetAfterMs: number;
}

export const DEFAULT_BACKOFF: Backoff = { initialMs: 500, factor: 2, maxMs: 30_000, resetAfterMs: 10_000 };

export interface SupervisorOptions {
  /** Plain-words events for the project's log ("exited with code 1; restarting in 2 s"). */
  onEvent?: (text: string) => void;
  /** Called when a restart is scheduled (attempt counts consecutive crashes, from 1). */
  onRestartScheduled?: (attempt: number, delayMs: number) => void;
  backoff?: Partial<Backoff>;
}

export class Supervisor {
  readonly socketPath: string;
  private readonly driver: RuntimeDriver;
  private readonly spec: InstanceSpec;
  private readonly backoff: Backoff;
  private readonly opts: SupervisorOptions;
  private current: Instance | null = null;
  private state: SupervisorStatus = 'stopped';
  private stopping = false;
  private readyTimeoutMs = 10_000;
  private upSince = 0;
  private crashes = 0;
  private restartCount = 0;
  private timer: NodeJS.Timeout | null = null;
  private restarting: Promise<void> | null = null;

  constructor(driver: RuntimeDriver, spec: InstanceSpec, opts: SupervisorOptions = {}) {
    this.driver = driver;
    this.spec = spec;
    this.opts = opts;
    this.backoff = { ...DEFAULT_BACKOFF, ...opts.backoff };
    this.socketPath = path.join(spec.runDir, SOCKET_NAME);
  }

  status(): SupervisorStatus {
    return this.state;
  }

  /** The running instance, if any (null while restarting). */
  get instance(): Instance | null {
    return this.current;
  }

  get pid(): number | undefined {
    return this.current?.pid;
  }

  /** How many times a crashed instance was brought back. */
  get restarts(): number {
    return this.restartCount;
  }

  /** Starts the first instance; resolves once it answers, rejects with its StartFailure otherwise. */
  async start(readyTimeoutMs: number): Promise<void> {
    if (this.stopping) throw new Error('this supervisor was stopped');
    if (this.current || this.state === 'starting') throw new Error('already started');
    this.readyTimeoutMs = readyTimeoutMs;
    this.state = 'starting';
    try {
      await this.launch();
    } catch (err) {
      this.state = this.stopping ? 'stopped' : 'failed';
      throw err;
    }
  }

  /** Stops for good: no restart follows. In-flight requests get graceMs to finish. */
  async stop(graceMs: number): Promise<void> {
    this.stopping = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    const inst = this.current;
    this.current = null;
    this.state = 'stopped';
    await Promise.all([inst?.stop(graceMs), this.restarting]);
  }

  /** One instance: start, wait until ready; on failure it is stopped and the error thrown. */
  private async launch(): Promise<void> {
    const inst = await this.driver.start(this.spec);
    if (this.stopping) {
      await inst.stop(0);
      throw new Error('stopped while starting');
    }
    this.current = inst;
    inst.onExit((code, signal) => this.exited(inst, code, signal));
    try {
      await inst.ready(this.readyTimeoutMs);
    } catch (err) {
      if (this.current === inst) this.current = null;
      await inst.stop(0);
      throw err;
    }
    if (this.stopping) return;
    this.state = 'running';
    this.upSince = Date.now();
  }

  private exited(inst: Instance, code: number | null, signal: NodeJS.Signals | null): void {
    // Only a running instance that nobody stopped counts as a crash; a failed start is reported by launch().
    if (inst !== this.current || this.stopping || this.state !== 'running') return;
    this.current = null;
    const how = signal ? `was killed by ${signal}` : `exited with code ${code}`;
    const upMs = Date.now() - this.upSince;
    if (upMs >= this.backoff.resetAfterMs) this.crashes = 0;
    this.schedule(`the app ${how} after ${formatMs(upMs)}`);
  }

  private schedule(reason: string): void {
    this.crashes++;
    const delay = Math.min(this.backoff.maxMs, Math.round(this.backoff.initialMs * this.backoff.factor ** (this.crashes - 1)));
    this.state = 'restarting';
    this.opts.onEvent?.(`${reason}; restarting in ${formatMs(delay)}`);
    this.opts.onRestartScheduled?.(this.crashes, delay);
    this.timer = setTimeout(() => {
      this.timer = null;
      this.restarting = this.restart().finally(() => (this.restarting = null));
    }, delay);
  }

  private async restart(): Promise<void> {
    if (this.stopping) return;
    try {
      await this.launch();
    } catch (err) {
      if (this.stopping) return;
      this.schedule(`the restart failed: ${(err as Error).message}`);
      return;
    }
    if (this.stopping) return;
    this.restartCount++;
    this.opts.onEvent?.('the app is running again');
  }
}

function formatMs(ms: number): string {
  return ms < 1000 ? `${ms} ms` : `${(ms / 1000).toFixed(ms < 10_000 ? 1 : 0)} s`;
}
