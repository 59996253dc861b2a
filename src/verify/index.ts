// The verifier library's public surface. Pure: no Node-only API anywhere below this file, so the
// CLI, the browser page and an agent run the same checks (test/verify/browser-bundle.test.ts).
export * from './bundle.ts';
export * from './check.ts';
export { verifyQuote, quoteFacts, QUOTE_CHECK_IDS, type QuoteEvidence } from './verify-quote.ts';
export { resolvePolicy, DEFAULT_ALLOWED_TCB_STATUSES, type VerifyOptions, type Policy } from './policy.ts';
export { parseQuoteInput, type QuoteInput } from './input.ts';
export { parseQuote, parseQeReport, reportOffset, INTEL_QE_VENDOR_ID, type ParsedQuote, type QuoteHeader, type TdReport, type QeReport } from './quote.ts';
export { checkDcap, intelRootCa, qvlStage, INTEL_ROOT_CA_SHA256, type DcapOptions, type DcapOutcome, type TcbResult } from './dcap.ts';
export { fetchCollateral, rawJsonMember, type FetchLike } from './collateral.ts';
export { parsePckExtension, deviceIdFromPpid, deviceIdFromUserData, type PckExtension } from './pck.ts';
export { checkTcb, TCB_STATUSES, type TcbPolicy } from './tcb.ts';
export { checkTdPolicy } from './td-policy.ts';
export { parseEventLog, replayRtmrs, runtimeDigest, runtimeDigestPreimage, eventDigests, checkEventLog, RUNTIME_EVENT_TYPE, type EventLogOutcome } from './eventlog.ts';
export { extractBootIdentity, checkBootIdentity, mrSystem, mrAggregated, type BootIdentity, type KeyProviderInfo } from './boot-identity.ts';
export { composeHash, parseAppCompose, isDigestPinned, findDaemonService, checkCompose, type AppComposeInfo, type ComposePolicy } from './compose.ts';
export { reportDataForPreimage, appReportData, taggedReportData, padReportData, checkReportData, checkNonce } from './binding.ts';
export { canonicalJson } from './deployment.ts';
export { hexToBytes, bytesToHex, bytesEqual } from './bytes.ts';
