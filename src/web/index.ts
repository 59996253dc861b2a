// The pages people look at: the public listing at `/`, the verifier page of an attested project
// (`/<name>/.well-known/tee-attestation`, also standalone at `/_webhost/verify`), and the admin
// page. Mounted on the daemon's Hono app before the API, so `/` can answer browsers with HTML.
import type { Hono } from 'hono';

export interface PagesDeps {
  log: (msg: string) => void;
}

export function mountPages(_app: Hono, _deps: PagesDeps): void {
  // Filled in by the pages work (issue 5): until then `/` answers JSON only.
}
