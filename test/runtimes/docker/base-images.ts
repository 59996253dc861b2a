// Test images built without any registry: the machine's static busybox becomes a rootfs, which
// the engine imports as an image. busybox `httpd` serves HTTP, and a few CGI scripts make it a
// tiny app: a key/value data service on a volume, a client that calls another service by name,
// a network probe for the isolation tests, and an env reader for passthrough.
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { readFileSync, existsSync } from 'node:fs';
import type { DockerEngine } from '../../../src/runtimes/docker/engine/client.ts';
import { packFiles } from '../../../src/runtimes/docker/engine/build-context.ts';

const BUSYBOX_CANDIDATES = ['/bin/busybox', '/usr/bin/busybox'];

const cgi = (body: string) => `#!/bin/sh\nprintf 'Content-Type: text/plain\\r\\n\\r\\n'\n${body}\n`;

/** CGI scripts under /www/cgi-bin. `nc` is used instead of `wget`: this busybox's wget -T crashes. */
export const SCRIPTS: Record<string, string> = {
  // GET: the stored value; POST: store the body. /data is a volume in the compose test.
  kv: cgi(`if [ "$REQUEST_METHOD" = POST ]; then head -c "$CONTENT_LENGTH" > /data/value; echo stored; else cat /data/value 2>/dev/null || echo empty; fi`),
  // Asks the data service (by its compose name) for its value.
  fetch: cgi(`printf 'GET /cgi-bin/kv HTTP/1.0\\r\\n\\r\\n' | nc -w 3 "\${DATA_HOST:-data}" 8080 | sed '1,/^\\r$/d'`),
  // ?ip:port → REACHED or BLOCKED (the hostile-tenant probe).
  probe: cgi(`t="$QUERY_STRING"; if printf 'GET / HTTP/1.0\\r\\n\\r\\n' | nc -w 2 "\${t%:*}" "\${t#*:}" 2>/dev/null | grep -q 'HTTP/1'; then echo REACHED; else echo BLOCKED; fi`),
  // ?NAME → the value of an env variable (or "unset").
  env: cgi(`eval "v=\\\${$QUERY_STRING-unset}"; echo "$v"`),
  // What the container's process is allowed.
  self: cgi(`id; grep -E '^(CapEff|NoNewPrivs|Seccomp)' /proc/self/status; touch /rootfs-write 2>/dev/null && echo rootfs=rw || echo rootfs=ro`),
};

function busyboxPath(): string {
  const p = BUSYBOX_CANDIDATES.find((c) => existsSync(c));
  if (!p) throw new Error('busybox is not installed (apt-get install busybox-static; scripts/install-system-deps.sh does it)');
  return p;
}

/** The busybox applets (without `busybox` itself: a self-link would replace the binary). */
function applets(): string[] {
  return execFileSync(busyboxPath(), ['--list'], { encoding: 'utf8' })
    .split('\n')
    .map((s) => s.trim())
    .filter((s) => s && s !== 'busybox');
}

export interface BaseImages {
  /** busybox with httpd on :8080 serving /www (CMD), the CGI scripts, /data and /tmp. */
  busybox: string;
}

/** Imports the test images if this engine does not have them yet (content-addressed tags). */
export async function ensureBaseImages(engine: DockerEngine): Promise<BaseImages> {
  const binary = readFileSync(busyboxPath());
  // A dynamically linked busybox would not run in an image that has no libc.
  if (binary.includes('/lib64/ld-linux') || binary.includes('/lib/ld-linux')) {
    throw new Error(`${busyboxPath()} is dynamically linked; install busybox-static (scripts/install-system-deps.sh)`);
  }
  const recipe = createHash('sha256').update(binary).update(JSON.stringify(SCRIPTS)).update('v1').digest('hex').slice(0, 12);
  const tag = `webhost-test/busybox:${recipe}`;
  if (await engine.inspectImage(tag)) return { busybox: tag };
  const files: Parameters<typeof packFiles>[0] = [
    { name: 'bin', type: 'directory' },
    { name: 'bin/busybox', body: binary, mode: 0o755 },
    ...applets().map((a) => ({ name: `bin/${a}`, type: 'symlink' as const, linkname: 'busybox' })),
    { name: 'etc', type: 'directory' },
    { name: 'etc/passwd', body: 'root:x:0:0:root:/:/bin/sh\nnobody:x:65534:65534:nobody:/:/bin/false\n' },
    { name: 'etc/group', body: 'root:x:0:\nnogroup:x:65534:\n' },
    { name: 'tmp', type: 'directory', mode: 0o1777 },
    { name: 'data', type: 'directory', mode: 0o777 },
    { name: 'www', type: 'directory' },
    { name: 'www/index.html', body: 'hello from busybox\n' },
    { name: 'www/cgi-bin', type: 'directory' },
    ...Object.entries(SCRIPTS).map(([n, body]) => ({ name: `www/cgi-bin/${n}`, body, mode: 0o755 })),
  ];
  const [repo, t] = tag.split(':') as [string, string];
  await engine.importImage(packFiles(files), {
    repo,
    tag: t,
    changes: ['ENV PATH=/bin', 'WORKDIR /', 'EXPOSE 8080', 'CMD ["httpd", "-f", "-p", "8080", "-h", "/www"]', 'LABEL dstack-webhost.test=base'],
  });
  return { busybox: tag };
}
