// A mock PCCS (Intel's Provisioning Certificate Caching Service, API v4) for the simulated
// platform, so that collateral fetchers such as dcap-qvl's getCollateral(pccsUrl, quote) work
// against the simulator exactly as against Intel's or Phala's PCCS: same paths, same headers
// (URL-encoded PEM issuer chains), same body shapes (research/dstack.md §4.2).

import type { IncomingMessage, ServerResponse } from 'node:http';
import { bytesToHex } from '../hex.ts';
import type { CollateralSource } from './collateral.ts';
import { FMSPC } from './platform.ts';
import { toPem } from './x509.ts';

export const PCCS_PATHS = {
  pckCrl: '/sgx/certification/v4/pckcrl',
  tcb: '/tdx/certification/v4/tcb',
  qeIdentity: '/tdx/certification/v4/qe/identity',
  rootCaCrl: '/sgx/certification/v4/rootcacrl',
} as const;

export function isPccsPath(pathname: string): boolean {
  return pathname.startsWith('/sgx/certification/') || pathname.startsWith('/tdx/certification/');
}

function send(res: ServerResponse, status: number, body: string | Uint8Array, type: string, headers: Record<string, string> = {}): void {
  const buf = typeof body === 'string' ? Buffer.from(body, 'utf8') : body;
  res.writeHead(status, { 'Content-Type': type, 'Content-Length': String(buf.length), ...headers });
  res.end(buf);
}

function notFound(res: ServerResponse, message: string): void {
  send(res, 404, JSON.stringify({ error: message }), 'application/json');
}

/** Serves one PCCS request. */
export function handlePccs(req: IncomingMessage, res: ServerResponse, url: URL, source: CollateralSource): void {
  if (req.method !== 'GET' && req.method !== 'HEAD') {
    send(res, 405, JSON.stringify({ error: 'PCCS routes accept GET only' }), 'application/json', { Allow: 'GET' });
    return;
  }
  const c = source.current();
  const chain = (pem: string) => encodeURIComponent(pem);
  switch (url.pathname) {
    case PCCS_PATHS.pckCrl: {
      // The simulated PKI has a Platform CA only. dcap-qvl 0.3.9 asks for ca=processor whatever
      // the quote's issuer (research/dstack.md §4.5), so both names get the Platform CA's CRL:
      // the one that actually covers the PCK certificate.
      const ca = url.searchParams.get('ca');
      if (ca !== 'platform' && ca !== 'processor') return notFound(res, `no PCK CRL for ca=${ca ?? ''} (expected platform or processor)`);
      const headers = { 'SGX-PCK-CRL-Issuer-Chain': chain(c.collateral.pck_crl_issuer_chain) };
      if (url.searchParams.get('encoding') === 'der') return send(res, 200, c.pckCrlDer, 'application/pkix-crl', headers);
      return send(res, 200, toPem(c.pckCrlDer, 'X509 CRL'), 'application/x-pem-file', headers);
    }
    case PCCS_PATHS.tcb: {
      const fmspc = url.searchParams.get('fmspc') ?? '';
      if (fmspc.toUpperCase() !== FMSPC) return notFound(res, `no TCB info for fmspc ${fmspc}; the simulated platform's FMSPC is ${FMSPC}`);
      const issuer = chain(c.collateral.tcb_info_issuer_chain);
      // v4 names the header TCB-Info-Issuer-Chain; older clients look for the SGX- prefixed name.
      return send(res, 200, c.tcbInfoBody, 'application/json', { 'TCB-Info-Issuer-Chain': issuer, 'SGX-TCB-Info-Issuer-Chain': issuer });
    }
    case PCCS_PATHS.qeIdentity:
      return send(res, 200, c.qeIdentityBody, 'application/json', {
        'SGX-Enclave-Identity-Issuer-Chain': chain(c.collateral.qe_identity_issuer_chain),
      });
    case PCCS_PATHS.rootCaCrl:
      // PCCS answers with the DER CRL as hex text (Intel's PCS with DER bytes).
      return send(res, 200, bytesToHex(c.rootCaCrlDer), 'text/plain');
    default:
      return notFound(res, `unknown PCCS route ${url.pathname}`);
  }
}
