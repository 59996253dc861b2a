// Issues X.509 certificates and CRLs for the simulator's development PKI: DER built with der.ts,
// ECDSA-P256-SHA256 signatures from node:crypto. Hand-built because the simulator runs inside the
// daemon (`npm start`): @peculiar/x509 is only a devDependency and needs a Reflect-metadata
// polyfill that is not installed. The output is checked in tests by node:crypto's X509Certificate,
// by openssl-compatible parsers in dcap-qvl, and by dcap-qvl's chain verification itself.

import { createHash, sign, type KeyObject } from 'node:crypto';
import { concatBytes } from '../hex.ts';
import { bitString, bool, explicit, integer, integerBytes, octets, oid, seq, tlv, time, utf8String } from './der.ts';

const ECDSA_WITH_SHA256 = seq(oid('1.2.840.10045.4.3.2'));

export interface DistinguishedName {
  commonName: string;
  organization: string;
}

export function encodeName(n: DistinguishedName): Uint8Array {
  const rdn = (type: string, value: string) => tlv(0x31, seq(oid(type), utf8String(value)));
  return seq(rdn('2.5.4.3', n.commonName), rdn('2.5.4.10', n.organization));
}

export interface ExtensionSpec {
  oid: string;
  critical: boolean;
  /** DER of the extension value (what goes inside the OCTET STRING). */
  value: Uint8Array;
}

const extension = (e: ExtensionSpec) => seq(oid(e.oid), ...(e.critical ? [bool(true)] : []), octets(e.value));

export const ext = {
  basicConstraints(ca: boolean, pathLen?: number): ExtensionSpec {
    const value = ca ? seq(bool(true), ...(pathLen === undefined ? [] : [integer(pathLen)])) : seq();
    return { oid: '2.5.29.19', critical: true, value };
  },
  /** Key usage as a DER BIT STRING (named bits, trailing zero bits dropped). */
  keyUsage(usage: 'ca' | 'signing'): ExtensionSpec {
    // ca: keyCertSign (bit 5) + cRLSign (bit 6) → 0x06, 1 unused bit.
    // signing: digitalSignature (bit 0) + nonRepudiation (bit 1) → 0xc0, 6 unused bits.
    const value = usage === 'ca' ? bitString(Uint8Array.of(0x06), 1) : bitString(Uint8Array.of(0xc0), 6);
    return { oid: '2.5.29.15', critical: true, value };
  },
  subjectKeyId(keyId: Uint8Array): ExtensionSpec {
    return { oid: '2.5.29.14', critical: false, value: octets(keyId) };
  },
  authorityKeyId(keyId: Uint8Array): ExtensionSpec {
    return { oid: '2.5.29.35', critical: false, value: seq(tlv(0x80, keyId)) };
  },
};

/** RFC 5280 method 1: SHA-1 of the subjectPublicKey bits (the uncompressed point). */
export function keyIdentifier(publicKey: KeyObject): Uint8Array {
  const jwk = publicKey.export({ format: 'jwk' });
  const point = concatBytes(Uint8Array.of(4), Buffer.from(jwk.x!, 'base64url'), Buffer.from(jwk.y!, 'base64url'));
  return new Uint8Array(createHash('sha1').update(point).digest());
}

function signed(tbs: Uint8Array, issuerKey: KeyObject): Uint8Array {
  const sig = new Uint8Array(sign('sha256', tbs, issuerKey)); // DER ECDSA-Sig-Value
  return seq(tbs, ECDSA_WITH_SHA256, bitString(sig));
}

export interface CertificateSpec {
  serial: Uint8Array;
  issuer: DistinguishedName;
  subject: DistinguishedName;
  notBefore: Date;
  notAfter: Date;
  publicKey: KeyObject;
  issuerKey: KeyObject;
  extensions: ExtensionSpec[];
}

export function issueCertificate(s: CertificateSpec): Uint8Array {
  const spki = new Uint8Array(s.publicKey.export({ type: 'spki', format: 'der' }));
  const tbs = seq(
    explicit(0, integer(2)), // v3
    integerBytes(s.serial),
    ECDSA_WITH_SHA256,
    encodeName(s.issuer),
    seq(time(s.notBefore), time(s.notAfter)),
    encodeName(s.subject),
    spki,
    explicit(3, seq(...s.extensions.map(extension))),
  );
  return signed(tbs, s.issuerKey);
}

export interface CrlSpec {
  issuer: DistinguishedName;
  issuerKeyId: Uint8Array;
  issuerKey: KeyObject;
  thisUpdate: Date;
  nextUpdate: Date;
  crlNumber: number;
}

/** An empty v2 CRL (nothing revoked) with CRL number and authority key identifier, like Intel's. */
export function issueCrl(s: CrlSpec): Uint8Array {
  const tbs = seq(
    integer(1), // v2
    ECDSA_WITH_SHA256,
    encodeName(s.issuer),
    time(s.thisUpdate),
    time(s.nextUpdate),
    explicit(0, seq(extension({ oid: '2.5.29.20', critical: false, value: integer(s.crlNumber) }), extension(ext.authorityKeyId(s.issuerKeyId)))),
  );
  return signed(tbs, s.issuerKey);
}

export function toPem(der: Uint8Array, label = 'CERTIFICATE'): string {
  const b64 = Buffer.from(der).toString('base64');
  return `-----BEGIN ${label}-----\n${b64.replace(/.{64}/g, '$&\n').replace(/\n$/, '')}\n-----END ${label}-----\n`;
}
