// Runs one dependency install (npm, bun, pip) to completion: output to the project's log and a
// bounded buffer, a deadline, and the whole process tree killed if it overruns.
import { spawn } from 'node:child_process';
import type { InstanceCgroup } from './cgroups.ts';
import type { LaunchPlan } from './launch.ts';
import { BoundedOutput } from './output.ts';

export interface InstallRun {
  code: number | null;
  signal: NodeJS.Signals | null;
  output: string;
  timedOut: boolean;
}

export function runInstall(
  plan: LaunchPlan,
  env: Record<string, string>,
  cgroup: InstanceCgroup | null,
  timeoutMs: number,
  onOutput: (stream: 'stdout' | 'stderr', chunk: Buffer) => void,
): Promise<InstallRun> {
  return new Promise((resolve) => {
    const output = new BoundedOutput();
    const child = spawn(plan.file, plan.args, { cwd: plan.cwd, env, stdio: ['ignore', 'pipe', 'pipe'], detached: true });
    const sink = (stream: 'stdout' | 'stderr') => (chunk: Buffer) => {
      output.push(chunk);
      try {
        onOutput(stream, chunk);
      } catch {
        // a broken log sink must not break the install
      }
    };
    child.stdout.on('data', sink('stdout'));
    child.stderr.on('data', sink('stderr'));
    let timedOut = false;
    const killAll = () => {
      try {
        if (child.pid) process.kill(-child.pid, 'SIGKILL');
      } catch {
        // gone
      }
      void cgroup?.killAll();
    };
    const timer = setTimeout(() => {
      timedOut = true;
      killAll();
    }, timeoutMs);
    let settled = false;
    const done = (code: number | null, signal: NodeJS.Signals | null) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      resolve({ code, signal, output: output.text(), timedOut });
    };
    child.on('error', (err) => {
      output.push(Buffer.from(`could not start: ${err.message}\n`));
      done(null, null);
    });
    child.on('exit', (code, signal) => {
      killAll(); // leftovers (a daemonized postinstall script) die with the install
      const late = setTimeout(() => done(code, signal), 500); // they may hold stdout open
      child.on('close', () => {
        clearTimeout(late);
        done(code, signal);
      });
    });
  });
}
