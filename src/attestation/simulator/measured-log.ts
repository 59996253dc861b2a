// The simulated CVM's event log and RTMRs as they evolve: the boot events, then the runtime events
// apps add with EmitEvent. RTMRs are extended incrementally, so a quote always carries exactly the
// replay of the log it is returned with. Runtime events live in memory only: a restart of the
// simulator is a reboot of the CVM, and a reboot resets RTMR3.

import { eventDigest, extendRtmr, stripEvent } from '../event-log.ts';
import type { TdxEvent } from '../guest-agent-types.ts';
import { runtimeEvent } from './boot.ts';

/** Bound on EmitEvent calls, so a runaway client cannot grow the log without limit. */
export const MAX_RUNTIME_EVENTS = 10_000;

export class MeasuredLog {
  readonly #events: TdxEvent[] = [];
  readonly #rtmrs: Uint8Array[] = [0, 1, 2, 3].map(() => new Uint8Array(48));
  #bootCount = 0;
  /** GetQuote's event_log text, cached: it changes only when an event is appended. */
  #strippedJson: string | undefined;

  constructor(bootEvents: readonly TdxEvent[]) {
    for (const e of bootEvents) this.#append(e);
    this.#bootCount = this.#events.length;
  }

  #append(e: TdxEvent): void {
    this.#rtmrs[e.imr] = extendRtmr(this.#rtmrs[e.imr]!, eventDigest(e));
    this.#events.push(e);
    this.#strippedJson = undefined;
  }

  /** Appends an app event after system-ready and extends RTMR3 with it (dstack's EmitEvent). */
  emit(event: string, payload: Uint8Array): void {
    if (this.#events.length - this.#bootCount >= MAX_RUNTIME_EVENTS) throw new Error(`too many runtime events (limit ${MAX_RUNTIME_EVENTS})`);
    this.#append(runtimeEvent(event, payload));
  }

  /** RTMR0–3 (copies). */
  rtmrs(): Uint8Array[] {
    return this.#rtmrs.map((r) => r.slice());
  }

  /** Every event with digest and payload (Info's tcb_info, Attest). */
  full(): TdxEvent[] {
    return this.#events.map((e) => ({ ...e }));
  }

  /** GetQuote's 0.5.6+ shape: boot events digest-only, runtime events payload-only. */
  stripped(): TdxEvent[] {
    return this.#events.map(stripEvent);
  }

  /** The stripped log as GetQuote's `event_log` JSON text. */
  strippedJson(): string {
    this.#strippedJson ??= JSON.stringify(this.stripped());
    return this.#strippedJson;
  }

  rtmr(index: 0 | 1 | 2 | 3): Uint8Array {
    return this.#rtmrs[index]!.slice();
  }
}
