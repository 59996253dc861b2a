// The development PKI is well-formed and honest: chains verify with node:crypto, every name says
// SIMULATED, the PCK certificate carries the Intel SGX extension with the platform's FMSPC, SVNs
// and PPID, the CRLs are signed by their issuers (dcap-qvl does not check that), and the mock
// PCCS answers with Intel's paths and headers.
import assert from 'node:assert/strict';
import { X509Certificate, verify as cryptoVerify } from 'node:crypto';
import { test } from 'node:test';
import dcap from '@phala/dcap-qvl';
import { CPU_SVN, FMSPC, PCE_SVN } from '../../src/attestation/simulator/platform.ts';
import { testSimulator } from './helpers.ts';

const { utils, oids } = dcap;

/** Splits a DER SEQUENCE into its elements' raw encodings (enough for Certificate/CRL top level). */
function derChildren(der: Uint8Array): Uint8Array[] {
  const read = (b: Uint8Array, at: number) => {
    let len = b[at + 1]!;
    let hdr = 2;
    if (len & 0x80) {
      const n = len & 0x7f;
      len = 0;
      for (let i = 0; i < n; i++) len = len * 256 + b[at + 2 + i]!;
      hdr = 2 + n;
    }
    return { hdr, len };
  };
  const outer = read(der, 0);
  const out: Uint8Array[] = [];
  for (let at = outer.hdr; at < outer.hdr + outer.len; ) {
    const { hdr, len } = read(der, at);
    out.push(der.subarray(at, at + hdr + len));
    at += hdr + len;
  }
  return out;
}

function verifyCrl(crl: Uint8Array, issuer: X509Certificate): boolean {
  const [tbs, , sigBits] = derChildren(crl);
  const sig = sigBits!.subarray(sigBits![1]! & 0x80 ? 3 + (sigBits![1]! & 0x7f) : 3); // skip tag, length, unused-bits byte
  return cryptoVerify('sha256', tbs!, issuer.publicKey, sig);
}

test('certificate chains verify, names say SIMULATED, roles are right', async () => {
  const sim = await testSimulator();
  const c = sim.collateral();
  const [pck, platformCa, root] = utils.extractCerts(Buffer.from(quoteChain(sim))).map((d) => new X509Certificate(d));
  const [tcbSigning, root2] = utils.extractCerts(Buffer.from(c.tcb_info_issuer_chain)).map((d) => new X509Certificate(d));
  assert.ok(pck && platformCa && root && tcbSigning && root2);
  assert.deepEqual(new Uint8Array(root.raw), sim.rootCaDer);
  assert.ok(root.verify(root.publicKey), 'root is self-signed');
  assert.ok(platformCa.verify(root.publicKey) && platformCa.checkIssued(root));
  assert.ok(pck.verify(platformCa.publicKey) && pck.checkIssued(platformCa));
  assert.ok(tcbSigning.verify(root.publicKey) && tcbSigning.checkIssued(root));
  assert.ok(!pck.verify(root.publicKey), 'the PCK leaf is not signed by the root directly');
  for (const cert of [pck, platformCa, root, tcbSigning]) {
    assert.match(cert.subject, /SIMULATED/);
    assert.match(cert.subject, /not Intel/);
    assert.ok(new Date(cert.validFrom) < new Date() && new Date(cert.validTo) > new Date(Date.now() + 5 * 365 * 86_400_000));
  }
  assert.match(platformCa.subject, /PCK Platform CA/);
  assert.equal(root.ca, true);
  assert.equal(platformCa.ca, true);
  assert.equal(pck.ca, false);
  assert.equal(tcbSigning.ca, false);
  assert.equal(sim.rootCaFingerprint, root.fingerprint256.replace(/:/g, '').toLowerCase());
});

/** The PEM chain inside a simulator quote (certification data type 5). */
function quoteChain(sim: Awaited<ReturnType<typeof testSimulator>>): string {
  const quote = dcap.Quote.parse(Buffer.from(sim.agent.getQuote(new Uint8Array()).quote, 'hex'));
  return Buffer.from(quote.rawCertChain()).toString('utf8');
}

test('the PCK certificate carries the Intel SGX extension of the simulated platform', async () => {
  const sim = await testSimulator();
  const [pckDer] = utils.extractCerts(Buffer.from(quoteChain(sim)));
  const ext = utils.getIntelExtension(pckDer!);
  assert.equal(Buffer.from(utils.getFmspc(ext)).toString('hex').toUpperCase(), FMSPC);
  assert.deepEqual(new Uint8Array(utils.getCpuSvn(ext)), CPU_SVN);
  assert.equal(utils.getPceSvn(ext), PCE_SVN);
  const findExtension = (utils as unknown as { findExtension(path: string[], raw: unknown): Buffer }).findExtension;
  assert.equal(findExtension([oids.PPID!], ext).length, 16);
  assert.equal(findExtension([oids.PCEID!], ext).toString('hex'), '0000');
});

test('CRLs are signed by their issuers and parse as CRLs', async () => {
  const sim = await testSimulator();
  const c = sim.collateral();
  const [platformCa, root] = utils.extractCerts(Buffer.from(c.pck_crl_issuer_chain)).map((d) => new X509Certificate(d));
  const rootCrl = Buffer.from(c.root_ca_crl as string, 'hex');
  const pckCrl = Buffer.from(c.pck_crl as string, 'hex');
  assert.ok(verifyCrl(rootCrl, root!));
  assert.ok(verifyCrl(pckCrl, platformCa!));
  assert.ok(!verifyCrl(pckCrl, root!), 'the PCK CRL is not the root CA CRL');
  const parsed = utils.CertificateList.decode(pckCrl, 'der') as { tbsCertList: { revokedCertificates?: unknown[] } };
  assert.equal(parsed.tbsCertList.revokedCertificates, undefined, 'nothing revoked');
});

test('the mock PCCS uses Intel v4 paths, headers and error answers', async () => {
  const sim = await testSimulator({ httpPort: 0 });
  const base = sim.httpUrl!;
  assert.equal(sim.pccsUrl, base);
  const tcb = await fetch(`${base}/tdx/certification/v4/tcb?fmspc=${FMSPC.toLowerCase()}`);
  assert.equal(tcb.status, 200);
  const chain = decodeURIComponent(tcb.headers.get('TCB-Info-Issuer-Chain')!);
  assert.equal(chain, sim.collateral().tcb_info_issuer_chain);
  const text = await tcb.text();
  assert.ok(text.includes(`"tcbInfo":${sim.collateral().tcb_info},`), 'the served text contains the signed text verbatim');
  const qe = await fetch(`${base}/tdx/certification/v4/qe/identity?update=standard`);
  assert.equal(decodeURIComponent(qe.headers.get('SGX-Enclave-Identity-Issuer-Chain')!), sim.collateral().qe_identity_issuer_chain);
  assert.equal((JSON.parse(await qe.text()) as { enclaveIdentity: { id: string } }).enclaveIdentity.id, 'TD_QE');
  const crl = await fetch(`${base}/sgx/certification/v4/pckcrl?ca=platform&encoding=der`);
  assert.equal(crl.headers.get('content-type'), 'application/pkix-crl');
  assert.equal(Buffer.from(await crl.arrayBuffer()).toString('hex'), sim.collateral().pck_crl);
  assert.ok(crl.headers.get('SGX-PCK-CRL-Issuer-Chain'));
  const rootCrl = await fetch(`${base}/sgx/certification/v4/rootcacrl`);
  assert.equal(await rootCrl.text(), sim.collateral().root_ca_crl);
  assert.equal((await fetch(`${base}/tdx/certification/v4/tcb?fmspc=00906ED50000`)).status, 404);
  assert.equal((await fetch(`${base}/sgx/certification/v4/pckcrl?ca=nobody`)).status, 404);
  assert.equal((await fetch(`${base}/tdx/certification/v4/tcb`, { method: 'POST' })).status, 405);
});

test('without an HTTP port the PCCS has a loopback port of its own that serves nothing else', async () => {
  const sim = await testSimulator();
  assert.equal(sim.httpUrl, undefined);
  assert.match(sim.pccsUrl, /^http:\/\/127\.0\.0\.1:\d+$/);
  assert.equal((await fetch(`${sim.pccsUrl}/tdx/certification/v4/qe/identity`)).status, 200);
  const rpc = await fetch(`${sim.pccsUrl}/GetQuote`, { method: 'POST', body: '{}' });
  assert.equal(rpc.status, 404);
});
