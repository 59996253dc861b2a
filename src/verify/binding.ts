// What the quote's report_data commits to. The daemon computes report_data with
// reportDataForPreimage() and the verifier recomputes it with the same function, so a single
// byte of difference between the two is impossible by construction.
import { sha512 } from '@noble/hashes/sha2';
import { REPORT_DATA_TAG, APP_REPORT_DATA_TAG, type Preimage } from './bundle.ts';
import { bytesEqual, bytesToHex, concatBytes, utf8ToBytes } from './bytes.ts';
import { fail, pass, skip, type Check } from './check.ts';
import { canonicalJson } from './deployment.ts';

/** SHA-512(tag ‖ canonical JSON) — 64 bytes, exactly the size of report_data. */
export function taggedReportData(tag: string, value: unknown): Uint8Array {
  return sha512(concatBytes(utf8ToBytes(tag), utf8ToBytes(canonicalJson(value))));
}

/** report_data = SHA-512("dstack-webhost/v1:" ‖ RFC 8785 JSON of the preimage). */
export function reportDataForPreimage(preimage: Preimage): Uint8Array {
  return taggedReportData(REPORT_DATA_TAG, preimage);
}

/** report_data for a quote an attested app asks for over its own data (ctx.quote). */
export function appReportData(value: unknown): Uint8Array {
  return taggedReportData(APP_REPORT_DATA_TAG, value);
}

/** GetQuote pads report_data on the right with zeros to 64 bytes; compare the same way. */
export function padReportData(b: Uint8Array): Uint8Array {
  if (b.length > 64) throw new Error('report_data is longer than 64 bytes');
  const out = new Uint8Array(64);
  out.set(b);
  return out;
}

const ID = 'binding.report-data';
const TITLE = 'report_data binds the published state';

export function checkReportData(actual: Uint8Array, opts: { expected?: Uint8Array; preimage?: Preimage }): Check {
  const act = bytesToHex(actual);
  if (!opts.expected && !opts.preimage) return skip(ID, TITLE, 'Nothing to compare report_data with (no preimage and no expected value given).', { actual: act });
  let fromPreimage: Uint8Array | null = null;
  if (opts.preimage) {
    try {
      fromPreimage = reportDataForPreimage(opts.preimage);
    } catch (e) {
      return fail(ID, TITLE, `The preimage cannot be canonicalised: ${e instanceof Error ? e.message : String(e)}.`, { actual: act });
    }
  }
  const given = opts.expected ? padReportData(opts.expected) : null;
  if (fromPreimage && given && !bytesEqual(fromPreimage, given)) {
    return fail(ID, TITLE, 'The expected report_data given differs from SHA-512(tag ‖ canonical preimage).', { expected: bytesToHex(fromPreimage), actual: bytesToHex(given) });
  }
  const want = (fromPreimage ?? given)!;
  const how = fromPreimage ? `SHA-512("${REPORT_DATA_TAG}" ‖ canonical JSON of the preimage)` : 'the expected value';
  return bytesEqual(want, actual)
    ? pass(ID, TITLE, `The quote's report_data equals ${how}: the signed quote commits to it.`, { expected: bytesToHex(want), actual: act })
    : fail(ID, TITLE, `The quote's report_data differs from ${how}: this quote does not attest that state.`, { expected: bytesToHex(want), actual: act });
}

/**
 * Freshness: the verifier sent `sentNonce`; the preimage the quote commits to must carry it.
 * Only meaningful together with a passing binding.report-data.
 */
export function checkNonce(sentNonce: string | undefined, preimage: Preimage | undefined, expectedGiven: boolean): Check {
  const id = 'binding.nonce';
  const title = 'Fresh quote (nonce)';
  if (sentNonce === undefined) return skip(id, title, 'No nonce was sent, so this quote may be an older one replayed; it proves the state at some time, not now.');
  const want = sentNonce.toLowerCase();
  if (!preimage) {
    return expectedGiven
      ? skip(id, title, 'The nonce is bound through the expected report_data the caller computed.')
      : fail(id, title, 'A nonce was sent but there is no preimage to find it in.', { expected: want });
  }
  const got = preimage.nonce === null ? 'null' : preimage.nonce.toLowerCase();
  return got === want
    ? pass(id, title, 'The preimage carries the nonce this verifier sent: the quote was made after the request.', { expected: want, actual: got })
    : fail(id, title, 'The preimage does not carry the nonce this verifier sent: the quote may be replayed.', { expected: want, actual: got });
}
