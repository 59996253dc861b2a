// Shared fixture loading for the verifier tests. The fixtures are public, Intel-signed dstack
// vectors (see fixtures/dstack/README.md); all collateral has expired, so tests pin `now`.
import { readFileSync } from 'node:fs';
import type { Collateral } from '../../src/verify/bundle.ts';
import { hexToBytes } from '../../src/verify/bytes.ts';
import type { Check, Report } from '../../src/verify/check.ts';

const DIR = new URL('./fixtures/dstack/', import.meta.url);

export const NOW_90C06F = new Date('2026-03-01T00:00:00Z');
export const NOW_B0C06F = new Date('2025-07-04T00:00:00Z');

export function fixtureText(name: string): string {
  return readFileSync(new URL(name, DIR), 'utf8');
}

export function fixtureBytes(name: string): Uint8Array {
  return new Uint8Array(readFileSync(new URL(name, DIR)));
}

export interface GetQuoteFixture {
  quote: Uint8Array;
  eventLog: string;
  reportData: string;
}

export function getQuote(name: string): GetQuoteFixture {
  const o = JSON.parse(fixtureText(name)) as { quote: string; event_log: string; report_data?: string };
  return { quote: hexToBytes(o.quote), eventLog: o.event_log, reportData: o.report_data ?? '' };
}

export function collateral(fmspc: '90c06f' | 'b0c06f'): Collateral {
  return JSON.parse(fixtureText(`collateral-fmspc-${fmspc}.json`)) as Collateral;
}

export const V0511 = 'dstack-getquote-v0.5.11.json';
export const STRIPPED = 'dstack-getquote-0.6-stripped.json';
export const OLD = 'dstack-old-report.json';

export function check(report: Pick<Report, 'checks'>, id: string): Check {
  const c = report.checks.find((x) => x.id === id);
  if (!c) throw new Error(`no check ${id} in report (have ${report.checks.map((x) => x.id).join(', ')})`);
  return c;
}

export function statuses(report: Pick<Report, 'checks'>): Record<string, string> {
  return Object.fromEntries(report.checks.map((c) => [c.id, c.status]));
}

export function flipBit(bytes: Uint8Array, offset: number, bit = 0): Uint8Array {
  const out = bytes.slice();
  out[offset]! ^= 1 << bit;
  return out;
}
