// One running tenant process: spawn, hand it its startup configuration on stdin, collect its
// output, answer "is it ready", stop it gracefully, and clean up after it (the whole process
// tree, the cgroup).
//
// Graceful stop is "close stdin": under bubblewrap the spawned pid is bwrap, which dies at once on
// SIGTERM (and takes the app with it), while the end of stdin reaches the shim through the
// sandbox. Without bubblewrap the shim also gets SIGTERM. After the grace period everything is
// SIGKILLed: the process group, and every process left in the instance's cgroup.
import { spawn, type ChildProcess } from 'node:child_process';
import type { Instance, Limits } from './driver.ts';
import type { InstanceCgroup } from './cgroups.ts';
import type { LaunchPlan } from './launch.ts';
import { BoundedOutput } from './output.ts';
import { StartFailureError } from './failures.ts';
import { probeSocket } from './probe.ts';

export interface ProcessInstanceOptions {
  plan: LaunchPlan;
  /** The exact process env (never the daemon's). */
  env: Record<string, string>;
  /** Sent as one JSON line on stdin. */
  startup: unknown;
  socketPath: string;
  cgroup: InstanceCgroup | null;
  limits: Limits;
  onOutput: (stream: 'stdout' | 'stderr', chunk: Buffer) => void;
}

type ExitListener = (code: number | null, signal: NodeJS.Signals | null) => void;

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

export class ProcessInstance implements Instance {
  readonly socketPath: string;
  private readonly child: ChildProcess;
  private readonly opts: ProcessInstanceOptions;
  private readonly output = new BoundedOutput();
  private readonly listeners: ExitListener[] = [];
  private exitInfo: { code: number | null; signal: NodeJS.Signals | null } | null = null;
  private readonly gone: Promise<void>;
  private stopping = false;
  private spawnError: Error | null = null;

  constructor(opts: ProcessInstanceOptions) {
    this.opts = opts;
    this.socketPath = opts.socketPath;
    this.child = spawn(opts.plan.file, opts.plan.args, {
      cwd: opts.plan.cwd,
      env: opts.env,
      stdio: ['pipe', 'pipe', 'pipe'],
      detached: true, // its own process group: the whole tree can be killed at once
    });
    const collect = (stream: 'stdout' | 'stderr') => (chunk: Buffer) => {
      this.output.push(chunk);
      try {
        opts.onOutput(stream, chunk);
      } catch {
        // a broken log sink must not take the instance down
      }
    };
    this.child.stdout!.on('data', collect('stdout'));
    this.child.stderr!.on('data', collect('stderr'));
    this.child.stdin!.on('error', () => undefined); // EPIPE when the app is already gone
    this.child.stdin!.write(JSON.stringify(opts.startup) + '\n');

    const closed = new Promise<void>((resolve) => this.child.on('close', () => resolve()));
    this.gone = new Promise<void>((resolve) => {
      const finish = async (code: number | null, signal: NodeJS.Signals | null) => {
        if (this.exitInfo) return;
        this.exitInfo = { code, signal };
        this.killTree();
        // let the last output arrive (a background child holding stdout open must not block us)
        await Promise.race([closed, sleep(200)]);
        if (opts.cgroup) {
          if ((await opts.cgroup.oomKills()) > 0) {
            const note = Buffer.from(`[webhost] the app was killed: it went over its memory limit of ${opts.limits.memoryMb} MiB\n`);
            this.output.push(note);
            try {
              opts.onOutput('stderr', note);
            } catch {
              // as above
            }
          }
          await opts.cgroup.remove().catch(() => undefined);
        }
        resolve();
        for (const l of this.listeners.splice(0)) l(code, signal);
      };
      this.child.on('exit', (code, signal) => void finish(code, signal));
      this.child.on('error', (err) => {
        this.spawnError = err;
        this.output.push(Buffer.from(`[webhost] could not start the process: ${err.message}\n`));
        void finish(null, null);
      });
    });
  }

  get pid(): number | undefined {
    return this.child.pid;
  }

  get exited(): boolean {
    return this.exitInfo !== null;
  }

  /** What the app printed last (bounded). */
  outputText(): string {
    return this.output.text();
  }

  onExit(listener: ExitListener): void {
    if (this.exitInfo) {
      const { code, signal } = this.exitInfo;
      void this.gone.then(() => listener(code, signal));
    } else {
      this.listeners.push(listener);
    }
  }

  /** Resolves once the process is gone and cleaned up. */
  exited$(): Promise<void> {
    return this.gone;
  }

  async ready(timeoutMs: number): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    let delay = 3;
    for (;;) {
      if (this.exitInfo) {
        await this.gone;
        throw this.failure(this.describeExit('before it was ready'));
      }
      const left = deadline - Date.now();
      if (left <= 0) throw this.failure(`the app did not answer on its socket within ${timeoutMs} ms`);
      if (await probeSocket(this.socketPath, Math.min(1000, Math.max(50, left)))) {
        if (!this.exitInfo) return;
        continue;
      }
      await Promise.race([sleep(delay), this.gone]);
      delay = Math.min(10, delay * 1.5); // a refused connect costs well under a millisecond
    }
  }

  async stop(graceMs: number): Promise<void> {
    if (this.exitInfo) return this.gone;
    this.stopping = true;
    this.child.stdin!.end();
    if (!this.opts.plan.sandboxed && this.child.pid) {
      try {
        this.child.kill('SIGTERM');
      } catch {
        // already gone
      }
    }
    const timer = setTimeout(() => this.killTree(), Math.max(0, graceMs));
    await this.gone;
    clearTimeout(timer);
  }

  /** True once stop() was called: the exit that follows is not a crash. */
  get stopRequested(): boolean {
    return this.stopping;
  }

  private killTree(): void {
    const pid = this.child.pid;
    if (pid) {
      try {
        process.kill(-pid, 'SIGKILL');
      } catch {
        // the group is already empty
      }
    }
    void this.opts.cgroup?.killAll().catch(() => undefined);
  }

  private describeExit(when: string): string {
    if (this.spawnError) return `the app could not be started: ${this.spawnError.message}`;
    const { code, signal } = this.exitInfo!;
    const how = signal ? `was killed by ${signal}` : `exited with code ${code}`;
    const last = lastLines(this.output.text());
    return `the app ${how} ${when}${last ? `: ${last}` : ''}`;
  }

  private failure(message: string): StartFailureError {
    return new StartFailureError(message, this.output.text(), this.exitInfo?.code ?? null);
  }
}

/** The last meaningful lines of output, for an error message (the full output travels separately). */
function lastLines(text: string): string {
  const lines = text
    .split('\n')
    .map((l) => l.replace(/\x1b\[[0-9;]*m/g, '').trim())
    .filter((l) => l && !/^at\s/.test(l) && !/^\^+$/.test(l));
  const tail = lines.slice(-2).join(' | ');
  return tail.length > 300 ? tail.slice(0, 300) + '…' : tail;
}
