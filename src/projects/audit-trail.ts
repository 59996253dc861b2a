// What the audit log records about attested projects. Promotion opens the project's log (a new
// incarnation if the name was used before) with `promote` as its first entry; from then on every
// management action appends one. At start-up the log is reconciled with the project's state, so a
// crash between an action and its entry shows up as a `recovered` entry, never as silence.
import type { AuditLogs, NewLogEntry } from '../auditlog/index.ts';
import type { DeploymentRef, LogEntry } from '../verify/bundle.ts';
import type { ProjectRecord } from './model.ts';
import type { ProjectEvent } from './deployer.ts';

export class AuditTrail {
  readonly logs: AuditLogs;
  private readonly now: () => Date;

  constructor(logs: AuditLogs, now: () => Date = () => new Date()) {
    this.logs = logs;
    this.now = now;
  }

  private entry(project: string, action: LogEntry['action'], deployment: DeploymentRef | null, detail: Record<string, unknown>): NewLogEntry {
    return { v: 1, time: this.now().toISOString(), action, project, deployment, detail: JSON.parse(JSON.stringify(detail)) as Record<string, unknown> };
  }

  /** Opens the project's log with its first entry, `promote`. */
  async promote(name: string, deployment: DeploymentRef, detail: Record<string, unknown>): Promise<void> {
    const log = await this.logs.open(name);
    if (log.size > 0) return; // already promoted (e.g. a retried request after a crash)
    await log.append(this.entry(name, 'promote', deployment, { from_mode: 'dev', to_mode: 'attested', ...detail }));
  }

  /** Appends the entry for an action on an attested project; teardown closes the log for good. */
  async record(e: ProjectEvent): Promise<void> {
    if (e.project.mode !== 'attested') return;
    const entry = this.entry(e.project.name, e.action, e.deployment, e.detail);
    if (e.action === 'teardown') {
      await this.logs.close(e.project.name, entry);
      return;
    }
    const log = await this.logs.current(e.project.name);
    if (!log) throw new Error(`attested project ${e.project.name} has no open audit log`);
    await log.append(entry);
  }

  /** Brings the log in line with what the daemon runs after a restart. */
  async reconcile(p: ProjectRecord, current: DeploymentRef): Promise<void> {
    if (p.mode !== 'attested') return;
    const log = await this.logs.open(p.name);
    if (log.size === 0) {
      await log.append(this.entry(p.name, 'promote', current, { from_mode: 'dev', to_mode: 'attested', recovered: true }));
      return;
    }
    const entries = log.entries().map((t) => JSON.parse(t) as LogEntry);
    const last = [...entries].reverse().find((e) => e.deployment !== null);
    if (last?.deployment?.id !== current.id) {
      await log.append(this.entry(p.name, 'deploy', current, { recovered: true, note: 'recorded at daemon start: the action that made this deployment current was not logged before a crash' }));
    }
  }
}
