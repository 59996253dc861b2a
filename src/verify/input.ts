// Accepts a quote however a user has it: raw binary, hex text, or a dstack GetQuote JSON
// response ({quote, event_log, report_data, vm_config}); the bundle's `attestation` object has
// the same keys. For `webhost verify --quote <file>`.
import { bytesToUtf8, hexToBytes } from './bytes.ts';

export interface QuoteInput {
  quote: Uint8Array;
  eventLog?: string;
  /** report_data as the response claims it (hex); the quote's own field is what counts. */
  reportData?: string;
  vmConfig?: string;
  format: 'binary' | 'hex' | 'getquote-json';
}

function fromJson(text: string): QuoteInput {
  const o = JSON.parse(text) as Record<string, unknown>;
  if (typeof o !== 'object' || o === null || typeof o.quote !== 'string') throw new Error('JSON input has no "quote" hex string');
  const out: QuoteInput = { quote: hexToBytes(o.quote.trim()), format: 'getquote-json' };
  // GetQuote returns event_log as a JSON string; Info's tcb_info carries it as an array.
  if (typeof o.event_log === 'string') out.eventLog = o.event_log;
  else if (Array.isArray(o.event_log)) out.eventLog = JSON.stringify(o.event_log);
  if (typeof o.report_data === 'string') out.reportData = o.report_data;
  if (typeof o.vm_config === 'string') out.vmConfig = o.vm_config;
  return out;
}

const HEX_TEXT = /^\s*(0x)?[0-9a-fA-F\s]+$/;

export function parseQuoteInput(data: Uint8Array | string): QuoteInput {
  if (typeof data === 'string') {
    const t = data.trim();
    if (t.startsWith('{')) return fromJson(t);
    if (HEX_TEXT.test(t)) return { quote: hexToBytes(t.replace(/\s+/g, '')), format: 'hex' };
    throw new Error('input is neither a GetQuote JSON response nor hex');
  }
  // A TDX quote starts with version 4 or 5 (little-endian u16), never with '{' or a hex digit.
  const first = data.find((b) => b !== 0x20 && b !== 0x0a && b !== 0x0d && b !== 0x09);
  if (first === 0x7b || (first !== undefined && /[0-9a-fA-F]/.test(String.fromCharCode(first)) && data[0] !== 4 && data[0] !== 5)) {
    return parseQuoteInput(bytesToUtf8(data));
  }
  return { quote: data, format: 'binary' };
}
