// The platform's TCB status (from dcap-qvl's match of the PCK TCB and TDX module SVNs against
// Intel's TCB info) judged against the policy. The status and advisory IDs are always shown.
import { fail, pass, skip, warn, type Check } from './check.ts';
import type { TcbResult } from './dcap.ts';

export const TCB_STATUSES = [
  'UpToDate',
  'SWHardeningNeeded',
  'ConfigurationNeeded',
  'ConfigurationAndSWHardeningNeeded',
  'OutOfDate',
  'OutOfDateConfigurationNeeded',
  'Revoked',
] as const;

export interface TcbPolicy {
  /** Statuses that pass. Default: UpToDate only. */
  allowed: readonly string[];
  /** Statuses that only warn. Anything else fails. */
  tolerated: readonly string[];
}

const ID = 'tcb.status';
const TITLE = 'Platform TCB status';

/**
 * `qvlFailure` is dcap-qvl's error when it rejected the quote; a TCB-level failure there ("No
 * matching TCB level found", a Revoked level) is a TCB failure here too, never a skip.
 */
export function checkTcb(tcb: TcbResult | null, policy: TcbPolicy, qvlFailure?: { message: string; stage: string }): Check {
  const expected = policy.allowed.join(' | ');
  if (!tcb) {
    if (qvlFailure?.stage === 'tcb') {
      return fail(ID, TITLE, `No acceptable TCB level: ${qvlFailure.message}. The platform's microcode or TDX module is older than every level Intel lists, so it is out of date.`, {
        expected,
        actual: 'no matching level',
      });
    }
    return skip(ID, TITLE, qvlFailure ? 'There is no TCB status because DCAP verification failed (see dcap.qvl).' : 'There is no TCB status without collateral.');
  }
  const advisories = tcb.advisoryIds.length ? ` Advisories: ${tcb.advisoryIds.join(', ')}.` : ' No security advisories apply.';
  const facts = { tcb_status: tcb.status, advisory_ids: tcb.advisoryIds };
  if (policy.allowed.includes(tcb.status)) return pass(ID, TITLE, `TCB status ${tcb.status} is allowed by the policy.${advisories}`, { expected, actual: tcb.status, facts });
  if (policy.tolerated.includes(tcb.status)) return warn(ID, TITLE, `TCB status ${tcb.status} is tolerated by the policy but not up to date.${advisories}`, { expected, actual: tcb.status, facts });
  return fail(ID, TITLE, `TCB status ${tcb.status} is not allowed by the policy.${advisories}`, { expected, actual: tcb.status, facts });
}
