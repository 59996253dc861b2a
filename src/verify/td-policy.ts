// The TD's own attributes, beyond what Intel's signature proves: a debuggable TD or a TD under a
// non-Intel TDX module would carry a valid quote but no confidentiality. The rules follow
// dstack's validate_tcb (not debug, mr_signer_seam = 0, TD15 mr_servicetd = 0) plus the
// SEPT_VE_DISABLE and reserved-bit rules dcap-qvl enforces.
import { bytesToHex, isAllZero } from './bytes.ts';
import { fail, pass, skip, type Check } from './check.ts';
import type { TdReport } from './quote.ts';

export function checkTdPolicy(r: TdReport): Check[] {
  const a = r.tdAttributes;
  const attrs = bytesToHex(a);
  const out: Check[] = [];

  // Byte 0 is the TUD group: bit 0 DEBUG, bits 1-7 reserved; all must be clear.
  out.push(
    a[0] === 0
      ? pass('td.debug', 'TD is not debuggable', 'td_attributes.DEBUG is clear: the host cannot read or alter the TD\'s memory through debug access.', { expected: '00', actual: '00' })
      : fail('td.debug', 'TD is not debuggable', (a[0]! & 1) ? 'The TD runs in DEBUG mode: its memory is readable by the host, so nothing it attests is confidential.' : 'Reserved TUD bits of td_attributes are set.', {
          expected: '00',
          actual: a[0]!.toString(16).padStart(2, '0'),
        }),
  );

  const septVe = (a[3]! & 0x10) !== 0;
  out.push(
    septVe
      ? pass('td.sept-ve-disable', 'SEPT_VE_DISABLE set', 'td_attributes.SEPT_VE_DISABLE is set: the host cannot inject EPT-violation #VE exceptions into the TD.', { facts: { td_attributes: attrs } })
      : fail('td.sept-ve-disable', 'SEPT_VE_DISABLE set', 'td_attributes.SEPT_VE_DISABLE is clear: the host can inject #VE exceptions into the TD.', { facts: { td_attributes: attrs } }),
  );

  // Reserved SEC bits (1..27 and 29) and OTHER bits (32..62) must be zero; PKS, KL and PERFMON are allowed.
  const reservedSec = ((a[3]! & 0x0f) << 16) | (a[2]! << 8) | a[1]! | (a[3]! & 0x20);
  const reservedOther = (a[4]! | a[5]! | a[6]! | (a[7]! & 0x7f)) !== 0;
  out.push(
    reservedSec === 0 && !reservedOther
      ? pass('td.reserved-attributes', 'No reserved TD attribute set', 'No reserved bit of td_attributes is set.', { facts: { td_attributes: attrs } })
      : fail('td.reserved-attributes', 'No reserved TD attribute set', `Reserved bits of td_attributes are set (${attrs}).`, { facts: { td_attributes: attrs } }),
  );

  const zero48 = '0'.repeat(96);
  const signer = bytesToHex(r.mrSignerSeam);
  out.push(
    isAllZero(r.mrSignerSeam)
      ? pass('td.mr-signer-seam', 'Intel TDX module', 'mr_signer_seam is zero: the TDX module is Intel\'s own, not a third-party signed one.', { expected: zero48, actual: signer, facts: { mr_seam: bytesToHex(r.mrSeam) } })
      : fail('td.mr-signer-seam', 'Intel TDX module', 'mr_signer_seam is not zero: the TDX module was signed by someone other than Intel.', { expected: zero48, actual: signer }),
  );

  if (r.type !== 'td15' || !r.mrServiceTd) {
    out.push(skip('td.mr-servicetd', 'No service TD bound', 'TD 1.0 report: there is no mr_servicetd field.'));
  } else {
    const st = bytesToHex(r.mrServiceTd);
    out.push(
      isAllZero(r.mrServiceTd)
        ? pass('td.mr-servicetd', 'No service TD bound', 'mr_servicetd is zero: no service TD (e.g. a migration TD) is bound to this TD.', { expected: zero48, actual: st })
        : fail('td.mr-servicetd', 'No service TD bound', 'mr_servicetd is not zero: a service TD is bound to this TD and can act on it.', { expected: zero48, actual: st }),
    );
  }
  return out;
}
