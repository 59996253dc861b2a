// Admin authentication: `Authorization: Bearer <TEE_DAEMON_TOKEN>`, compared in constant time.
// Both sides are hashed first so the comparison takes the same time whatever the lengths.
import { createHash, timingSafeEqual } from 'node:crypto';

export type TokenCheck = (authorization: string | undefined) => 'ok' | 'missing' | 'invalid';

export function tokenChecker(token: string): TokenCheck {
  const want = createHash('sha256').update(token).digest();
  return (authorization) => {
    const m = /^Bearer\s+(\S+)\s*$/i.exec(authorization ?? '');
    if (!m) return 'missing';
    const got = createHash('sha256').update(m[1]!).digest();
    return timingSafeEqual(got, want) ? 'ok' : 'invalid';
  };
}
