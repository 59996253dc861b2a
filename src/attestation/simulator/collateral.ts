// Signed DCAP collateral for the simulated platform: TCB info (id "TDX", version 3) and QE
// identity (id "TD_QE"), each signed ECDSA-P256 raw r‖s by the TCB signing certificate, plus the
// root CA and PCK CRLs. Like a PCCS cache, it is regenerated once a day, so issueDate is recent
// and nextUpdate is ~30 days ahead however long the simulator runs.

import { sign } from 'node:crypto';
import type { Collateral } from '../../verify/bundle.ts';
import { bytesToHex, utf8 } from '../hex.ts';
import { pemChain, type Pki } from './pki.ts';
import { CPU_SVN, FMSPC, PCE_ID, PCE_SVN, QE, TCB_DATE, TCB_EVALUATION_DATA_NUMBER, TEE_TCB_SVN } from './platform.ts';
import { issueCrl } from './x509.ts';

export type TcbStatus =
  | 'UpToDate'
  | 'SWHardeningNeeded'
  | 'ConfigurationNeeded'
  | 'ConfigurationAndSWHardeningNeeded'
  | 'OutOfDate'
  | 'OutOfDateConfigurationNeeded';

const DAY = 86_400_000;
const VALIDITY_MS = 30 * DAY;
const REFRESH_MS = DAY;
/** Backdating absorbs small clock differences between the simulator and a verifier. */
const BACKDATE_MS = 60_000;
/** Advisory named for every non-UpToDate level; obviously not an Intel advisory. */
export const SIMULATED_ADVISORY = 'SIM-SA-00001';

/** Everything a PCCS serves for the simulated FMSPC, in the forms it serves it. */
export interface SignedCollateral {
  collateral: Collateral;
  /** The raw `/tdx/certification/v4/tcb` body: {"tcbInfo":<signed text>,"signature":"<hex>"}. */
  tcbInfoBody: string;
  /** The raw `/tdx/certification/v4/qe/identity` body. */
  qeIdentityBody: string;
  pckCrlDer: Uint8Array;
  rootCaCrlDer: Uint8Array;
  issuedAt: Date;
  nextUpdate: Date;
}

const isoSeconds = (d: Date) => `${d.toISOString().slice(0, 19)}Z`;

const SGX_COMPONENT_NAMES: [string, string?][] = [
  ['BIOS', 'Early Microcode Update'],
  ['OS/VMM', 'SGX Late Microcode Update'],
  ['OS/VMM', 'TXT SINIT'],
  ['BIOS'],
  ['BIOS'],
  ['BIOS'],
  [''],
  ['OS/VMM', 'SEAMLDR ACM'],
];
const TDX_COMPONENT_NAMES: [string, string?][] = [
  ['OS/VMM', 'TDX Module'],
  ['OS/VMM', 'TDX Module'],
  ['OS/VMM', 'TDX Late Microcode Update'],
];

function components(svns: Uint8Array, names: [string, string?][]) {
  return Array.from(svns, (svn, i) => {
    const [category, type] = names[i] ?? [''];
    return { svn, ...(category ? { category } : {}), ...(type ? { type } : {}) };
  });
}

function tcbLevel(cpuSvn: Uint8Array, pceSvn: number, teeTcbSvn: Uint8Array, status: TcbStatus) {
  return {
    tcb: {
      sgxtcbcomponents: components(cpuSvn, SGX_COMPONENT_NAMES),
      pcesvn: pceSvn,
      tdxtcbcomponents: components(teeTcbSvn, TDX_COMPONENT_NAMES),
    },
    tcbDate: TCB_DATE,
    tcbStatus: status,
    ...(status === 'UpToDate' ? {} : { advisoryIDs: [SIMULATED_ADVISORY] }),
  };
}

/**
 * TCB levels, best first. The platform's own SVNs match the level carrying `status`; for any
 * status but UpToDate an UpToDate level above it needs a newer PCESVN than the platform has.
 */
function tcbLevels(status: TcbStatus) {
  const floor = tcbLevel(new Uint8Array(16), 0, new Uint8Array(16), 'OutOfDate');
  const own = tcbLevel(CPU_SVN, PCE_SVN, TEE_TCB_SVN, status);
  return status === 'UpToDate' ? [own, floor] : [tcbLevel(CPU_SVN, PCE_SVN + 1, TEE_TCB_SVN, 'UpToDate'), own, floor];
}

function signRaw(pki: Pki, text: string): string {
  const sig = sign('sha256', utf8(text), { key: pki.tcbSigning.key.privateKey, dsaEncoding: 'ieee-p1363' });
  return bytesToHex(sig);
}

export function buildCollateral(pki: Pki, now: Date, status: TcbStatus = 'UpToDate'): SignedCollateral {
  const issuedAt = new Date(Math.floor((now.getTime() - BACKDATE_MS) / 1000) * 1000);
  const nextUpdate = new Date(issuedAt.getTime() + VALIDITY_MS);
  const zeros48 = '0'.repeat(96);
  const tcbInfo = JSON.stringify({
    id: 'TDX',
    version: 3,
    issueDate: isoSeconds(issuedAt),
    nextUpdate: isoSeconds(nextUpdate),
    fmspc: FMSPC,
    pceId: PCE_ID,
    tcbType: 0,
    tcbEvaluationDataNumber: TCB_EVALUATION_DATA_NUMBER,
    tdxModule: { mrsigner: zeros48, attributes: '0000000000000000', attributesMask: 'FFFFFFFFFFFFFFFF' },
    tdxModuleIdentities: [
      {
        id: 'TDX_01',
        mrsigner: zeros48,
        attributes: '0000000000000000',
        attributesMask: 'FFFFFFFFFFFFFFFF',
        tcbLevels: [{ tcb: { isvsvn: TEE_TCB_SVN[0] }, tcbDate: TCB_DATE, tcbStatus: 'UpToDate' }],
      },
    ],
    tcbLevels: tcbLevels(status),
  });
  const qeIdentity = JSON.stringify({
    id: 'TD_QE',
    version: 2,
    issueDate: isoSeconds(issuedAt),
    nextUpdate: isoSeconds(nextUpdate),
    tcbEvaluationDataNumber: TCB_EVALUATION_DATA_NUMBER,
    miscselect: '00000000',
    miscselectMask: 'FFFFFFFF',
    attributes: '11000000000000000000000000000000',
    attributesMask: 'FBFFFFFFFFFFFFFF0000000000000000',
    mrsigner: bytesToHex(QE.mrSigner).toUpperCase(),
    isvprodid: QE.isvProdId,
    tcbLevels: [{ tcb: { isvsvn: QE.isvSvn }, tcbDate: TCB_DATE, tcbStatus: 'UpToDate' }],
  });
  const tcbInfoSignature = signRaw(pki, tcbInfo);
  const qeIdentitySignature = signRaw(pki, qeIdentity);
  const crl = (issuer: 'root' | 'platformCa') =>
    issueCrl({
      issuer: pki[issuer].name,
      issuerKeyId: pki[issuer].keyId,
      issuerKey: pki[issuer].key.privateKey,
      thisUpdate: issuedAt,
      nextUpdate,
      crlNumber: Math.floor(issuedAt.getTime() / 1000),
    });
  const rootCaCrlDer = crl('root');
  const pckCrlDer = crl('platformCa');
  const signingChain = pemChain(pki.tcbSigning, pki.root);
  return {
    collateral: {
      pck_crl_issuer_chain: pemChain(pki.platformCa, pki.root),
      root_ca_crl: bytesToHex(rootCaCrlDer),
      pck_crl: bytesToHex(pckCrlDer),
      tcb_info_issuer_chain: signingChain,
      tcb_info: tcbInfo,
      tcb_info_signature: tcbInfoSignature,
      qe_identity_issuer_chain: signingChain,
      qe_identity: qeIdentity,
      qe_identity_signature: qeIdentitySignature,
    },
    // Built by concatenation so the served text contains the signed text byte for byte.
    tcbInfoBody: `{"tcbInfo":${tcbInfo},"signature":"${tcbInfoSignature}"}`,
    qeIdentityBody: `{"enclaveIdentity":${qeIdentity},"signature":"${qeIdentitySignature}"}`,
    pckCrlDer,
    rootCaCrlDer,
    issuedAt,
    nextUpdate,
  };
}

/** Hands out collateral that is always inside its validity window, regenerating it daily. */
export class CollateralSource {
  #current: SignedCollateral | undefined;
  readonly #pki: Pki;
  readonly #status: TcbStatus;

  constructor(pki: Pki, status: TcbStatus = 'UpToDate') {
    this.#pki = pki;
    this.#status = status;
  }

  current(now = new Date()): SignedCollateral {
    const c = this.#current;
    if (!c || now.getTime() - c.issuedAt.getTime() > REFRESH_MS || now < c.issuedAt) {
      this.#current = buildCollateral(this.#pki, now, this.#status);
    }
    return this.#current!;
  }
}
