// The Layer 1 policy without an engine: every forbidden compose key is refused with a 4xx naming
// its key path, volume names cannot escape the project, env_passthrough never forwards the
// daemon's secrets, attested mode refuses floating tags, and the small parsers behave.
import test from 'node:test';
import assert from 'node:assert/strict';
import { HttpError } from '../../../src/lib/http-error.ts';
import { checkComposePolicy, composePlan, parseComposeText } from '../../../src/runtimes/docker/compose/normalize.ts';
import { parseDockerFields } from '../../../src/runtimes/docker/manifest.ts';
import { Names, checkProject } from '../../../src/runtimes/docker/names.ts';
import { parseEnvPassthrough, resolvePassthrough } from '../../../src/runtimes/docker/policy/env-passthrough.ts';
import { checkImageRef, parseImageRef } from '../../../src/runtimes/docker/policy/image-ref.ts';
import { FrameParser, encodeFrame } from '../../../src/runtimes/docker/engine/mux.ts';
import { shellWords, parseDuration, parseBytes } from '../../../src/runtimes/docker/compose/units.ts';
import { unpinnedBaseImage } from '../../../src/runtimes/docker/source-files.ts';
import { containerBody, effectiveCaps } from '../../../src/runtimes/docker/container-body.ts';

const DATA = '/var/lib/webhost/tenants/app1/data';
const SRC = '/var/lib/webhost/tenants/app1/deployments/d1/src';
const DIGEST = `sha256:${'a'.repeat(64)}`;

function refused(fn: () => unknown, field: string, opts: { status?: number; code?: string } = {}): HttpError {
  let caught: unknown;
  try {
    fn();
  } catch (err) {
    caught = err;
  }
  assert.ok(caught instanceof HttpError, `expected an HttpError naming ${field}, got ${caught === undefined ? 'no error' : String(caught)}`);
  assert.ok(caught.status >= 400 && caught.status < 500, `expected a 4xx for ${field}, got ${caught.status}`);
  assert.equal(caught.field, field, `wrong field in: ${caught.message}`);
  if (opts.status) assert.equal(caught.status, opts.status, caught.message);
  if (opts.code) assert.equal(caught.code, opts.code, caught.message);
  return caught;
}

const service = (extra: Record<string, unknown>) => ({ services: { app: { image: 'local/app:1', ...extra } }, 'x-webhost': { service: 'app', port: 8080 } });
const check = (doc: unknown, attested = false) => checkComposePolicy(doc, { attested, dataDir: DATA, sourceDir: SRC });

test('every forbidden service key is refused with a 422 naming its key path', () => {
  const cases: Array<[Record<string, unknown>, string]> = [
    [{ privileged: true }, 'services.app.privileged'],
    [{ network_mode: 'host' }, 'services.app.network_mode'],
    [{ network_mode: 'container:abc123' }, 'services.app.network_mode'],
    [{ network_mode: 'service:db' }, 'services.app.network_mode'],
    [{ network_mode: 'bridge' }, 'services.app.network_mode'],
    [{ pid: 'host' }, 'services.app.pid'],
    [{ pid: 'container:x' }, 'services.app.pid'],
    [{ ipc: 'host' }, 'services.app.ipc'],
    [{ ipc: 'container:x' }, 'services.app.ipc'],
    [{ uts: 'host' }, 'services.app.uts'],
    [{ userns_mode: 'host' }, 'services.app.userns_mode'],
    [{ cgroup: 'host' }, 'services.app.cgroup'],
    [{ cgroup_parent: '/' }, 'services.app.cgroup_parent'],
    [{ devices: ['/dev/sda:/dev/sda'] }, 'services.app.devices'],
    [{ device_cgroup_rules: ['c 1:3 mr'] }, 'services.app.device_cgroup_rules'],
    [{ gpus: 'all' }, 'services.app.gpus'],
    [{ sysctls: { 'net.ipv4.ip_forward': 1 } }, 'services.app.sysctls'],
    [{ runtime: 'runc' }, 'services.app.runtime'],
    [{ isolation: 'default' }, 'services.app.isolation'],
    [{ external_links: ['other_db_1:db'] }, 'services.app.external_links'],
    [{ use_api_socket: true }, 'services.app.use_api_socket'],
    [{ oom_kill_disable: true }, 'services.app.oom_kill_disable'],
    [{ cap_add: ['SYS_ADMIN'] }, 'services.app.cap_add[0]'],
    [{ cap_add: ['CHOWN', 'NET_RAW'] }, 'services.app.cap_add[1]'],
    [{ cap_add: ['ALL'] }, 'services.app.cap_add[0]'],
    [{ cap_add: ['CAP_SYS_PTRACE'] }, 'services.app.cap_add[0]'],
    [{ cap_add: ['NET_ADMIN'] }, 'services.app.cap_add[0]'],
    [{ security_opt: ['seccomp:unconfined'] }, 'services.app.security_opt[0]'],
    [{ security_opt: ['no-new-privileges:true', 'apparmor=unconfined'] }, 'services.app.security_opt[1]'],
    [{ security_opt: ['label=disable'] }, 'services.app.security_opt[0]'],
    [{ security_opt: ['systempaths=unconfined'] }, 'services.app.security_opt[0]'],
    [{ security_opt: ['no-new-privileges:false'] }, 'services.app.security_opt[0]'],
    [{ volumes: ['/var/run/docker.sock:/var/run/docker.sock'] }, 'services.app.volumes[0]'],
    [{ volumes: ['/run/docker.sock:/d.sock'] }, 'services.app.volumes[0]'],
    [{ volumes: ['/var/run/dstack.sock:/var/run/dstack.sock'] }, 'services.app.volumes[0]'],
    [{ volumes: ['/var/run/tappd.sock:/t.sock'] }, 'services.app.volumes[0]'],
    [{ volumes: ['/etc:/host-etc:ro'] }, 'services.app.volumes[0]'],
    [{ volumes: ['/:/host'] }, 'services.app.volumes[0]'],
    [{ volumes: ['/var/lib/webhost/tenants/app2/data:/x'] }, 'services.app.volumes[0]'],
    [{ volumes: ['/var/lib/webhost/tenants/app1/data-other:/x'] }, 'services.app.volumes[0]'],
    [{ volumes: ['../../../../etc:/x'] }, 'services.app.volumes[0]'],
    [{ volumes: ['~/.ssh:/x'] }, 'services.app.volumes[0]'],
    [{ volumes: [{ type: 'bind', source: '/', target: '/host' }] }, 'services.app.volumes[0]'],
    [{ volumes: [{ type: 'bind', source: `${DATA}/x`, target: '/x', bind: { propagation: 'rshared' } }] }, 'services.app.volumes[0].bind.propagation'],
    [{ volumes: [`${DATA}/x:/x:shared`] }, 'services.app.volumes[0]'],
    [{ volumes: ['data:/proc/x'] }, 'services.app.volumes[0]'],
    [{ extra_hosts: ['host.docker.internal:host-gateway'] }, 'services.app.extra_hosts[0]'],
    [{ extra_hosts: { metadata: '169.254.169.254' } }, 'services.app.extra_hosts.metadata'],
    [{ extra_hosts: ['self=127.0.0.1'] }, 'services.app.extra_hosts[0]'],
    [{ labels: { 'dstack-webhost.project': 'other' } }, 'services.app.labels.dstack-webhost.project'],
    [{ labels: ['com.docker.compose.project=x'] }, 'services.app.labels[0]'],
    [{ mem_limit: '100g' }, 'services.app.mem_limit'],
    [{ deploy: { resources: { limits: { cpus: '32' } } } }, 'services.app.deploy.resources.limits.cpus'],
    [{ pids_limit: 100000 }, 'services.app.pids_limit'],
    [{ env_file: ['/etc/shadow'] }, 'services.app.env_file[0]'],
    [{ env_file: '../secrets.env' }, 'services.app.env_file[0]'],
  ];
  for (const [extra, field] of cases) {
    const doc = service(extra);
    (doc as { volumes?: unknown }).volumes = { data: null };
    const err = refused(() => check(doc), field, { status: 422 });
    assert.match(err.code, /^(compose_forbidden|mount_refused)$/, `${field}: ${err.code} ${err.message}`);
  }
});

test('builds and top-level objects cannot leave the project', () => {
  const cases: Array<[Record<string, unknown>, string]> = [
    [{ services: { app: { build: '../other-project' } } }, 'services.app.build.context'],
    [{ services: { app: { build: '/etc' } } }, 'services.app.build.context'],
    [{ services: { app: { build: { context: '.', dockerfile: '../../Dockerfile' } } } }, 'services.app.build.dockerfile'],
    [{ services: { app: { image: 'a:1', volumes: ['v:/v'] } }, volumes: { v: { external: true } } }, 'volumes.v.external'],
    [{ services: { app: { image: 'a:1', volumes: ['v:/v'] } }, volumes: { v: { name: 'webhost_other_data' } } }, 'volumes.v.name'],
    [{ services: { app: { image: 'a:1', volumes: ['v:/v'] } }, volumes: { v: { driver_opts: { type: 'none', o: 'bind', device: '/etc' } } } }, 'volumes.v.driver_opts'],
    [{ services: { app: { image: 'a:1', volumes: ['v:/v'] } }, volumes: { v: { driver: 'nfs' } } }, 'volumes.v.driver'],
    [{ services: { app: { image: 'a:1', networks: ['n'] } }, networks: { n: { external: true } } }, 'networks.n.external'],
    [{ services: { app: { image: 'a:1', networks: ['n'] } }, networks: { n: { driver: 'host' } } }, 'networks.n.driver'],
    [{ services: { app: { image: 'a:1', networks: ['n'] } }, networks: { n: { driver: 'macvlan' } } }, 'networks.n.driver'],
    [{ services: { app: { image: 'a:1', networks: ['n'] } }, networks: { n: { name: 'webhost_other_x_default' } } }, 'networks.n.name'],
    [{ services: { app: { image: 'a:1', networks: ['n'] } }, networks: { n: { driver_opts: { 'com.docker.network.bridge.name': 'docker0' } } } }, 'networks.n.driver_opts'],
  ];
  for (const [doc, field] of cases) {
    (doc as Record<string, unknown>)['x-webhost'] = { service: 'app', port: 80 };
    refused(() => check(doc), field, { status: 422, code: 'compose_forbidden' });
  }
});

test('compose keys we do not implement are refused, not silently dropped', () => {
  for (const [extra, field] of [
    [{ secrets: ['s'] }, 'services.app.secrets'],
    [{ extends: { file: '/etc/x.yaml', service: 'y' } }, 'services.app.extends'],
    [{ logging: { driver: 'syslog' } }, 'services.app.logging'],
    [{ volumes_from: ['container:other'] }, 'services.app.volumes_from'],
    [{ ulimits: { nofile: 1 } }, 'services.app.ulimits'],
    [{ made_up_key: 1 }, 'services.app.made_up_key'],
    [{ networks: { default: { ipv4_address: '10.0.0.5' } } }, 'services.app.networks.default.ipv4_address'],
  ] as Array<[Record<string, unknown>, string]>) {
    refused(() => check(service(extra)), field, { status: 422, code: 'compose_unsupported' });
  }
  refused(() => check({ ...service({}), secrets: { s: { file: '/etc/shadow' } } }), 'secrets', { code: 'compose_unsupported' });
  refused(() => check({ ...service({}), include: ['/etc/other.yaml'] }), 'include', { code: 'compose_unsupported' });
});

test('malformed compose is a 400 naming the key', () => {
  refused(() => check(parseComposeText('services: [unclosed')), 'compose', { status: 400 });
  refused(() => check({ services: { app: {} } }), 'services.app', { status: 400 });
  refused(() => check({ services: { app: { image: 'a:1', depends_on: ['ghost'] } } }), 'services.app.depends_on[0]', { status: 400 });
  refused(() => check({ services: { app: { image: 'a:1', volumes: ['undeclared:/x'] } } }), 'services.app.volumes[0]', { status: 400 });
  refused(() => check({ services: { a: { image: 'a:1' }, b: { image: 'b:1' } } }), 'service', { status: 400 });
  refused(() => check({ services: { app: { image: 'a:1' } }, 'x-webhost': { service: 'nope', port: 80 } }), 'x-webhost.service', { status: 400 });
  refused(() => check({ services: { a: { image: 'a:1', depends_on: ['b'] }, b: { image: 'b:1', depends_on: ['a'] } }, 'x-webhost': { service: 'a', port: 1 } }), 'services', { status: 400 });
  // An alias bomb (billion laughs) is refused, not expanded.
  let bomb = 'a0: &a0 [x, x, x, x, x, x, x, x, x, x]\n';
  for (let k = 1; k < 10; k++) bomb += `a${k}: &a${k} [${Array(10).fill(`*a${k - 1}`).join(', ')}]\n`;
  refused(() => parseComposeText(bomb), 'compose', { status: 400 });
});

test('what a compose file may do is translated faithfully', () => {
  const yaml = `
services:
  web:
    image: local/web:1
    command: sh -c "echo $$HOME && httpd -f"
    environment:
      GREETING: \${GREETING:-hello}
      TOKEN: \${TEE_DAEMON_TOKEN}
      FROM_PROJECT:
    depends_on:
      db: { condition: service_healthy }
    ports: ["8080:80"]
    cap_add: [SYS_CHROOT]
    cap_drop: [KILL]
    security_opt: [no-new-privileges:true]
    mem_limit: 64m
    read_only: true
    tmpfs: [/run:size=1m]
    restart: no
  db:
    image: local/db:1
    volumes: ['pg:/var/lib/pg', './conf:/etc/db:rw', '\${WEBHOST_DATA}/dump:/dump']
    healthcheck: { test: ["CMD", "true"], interval: 200ms, retries: 3 }
    networks: [back]
volumes: { pg: {} }
networks: { back: { internal: true } }
x-webhost: { service: web, port: 80 }
`;
  process.env.TEE_DAEMON_TOKEN = 'the-daemon-token';
  const plan = composePlan(parseComposeText(yaml), { attested: false, dataDir: DATA, sourceDir: SRC, env: { FROM_PROJECT: 'p' }, limits: { memoryMb: 512, pids: 128, cpus: 1 } });
  const web = plan.services.find((s) => s.name === 'web')!;
  const db = plan.services.find((s) => s.name === 'db')!;
  assert.deepEqual(web.command, ['sh', '-c', 'echo $HOME && httpd -f']);
  // Interpolation reads the project's env only: the daemon's token is never visible to a compose file.
  assert.deepEqual(web.env, { GREETING: 'hello', TOKEN: '', FROM_PROJECT: 'p' });
  assert.ok(plan.warnings.some((w) => w.includes('TEE_DAEMON_TOKEN')));
  assert.ok(plan.warnings.some((w) => w.startsWith('services.web.ports')));
  assert.deepEqual(web.dependsOn, [{ service: 'db', condition: 'service_healthy' }]);
  assert.deepEqual(effectiveCaps(web), ['CHOWN', 'DAC_OVERRIDE', 'FOWNER', 'FSETID', 'NET_BIND_SERVICE', 'SETGID', 'SETUID', 'SYS_CHROOT']);
  assert.equal(web.resources.memoryBytes, 64 * 1024 * 1024);
  assert.equal(web.restart.name, 'no');
  assert.deepEqual(
    db.mounts.map((m) => [m.type, m.type === 'bind' ? m.source : m.type === 'volume' ? m.volume : '', m.target, m.type === 'tmpfs' ? false : m.readOnly]),
    [
      ['volume', 'pg', '/var/lib/pg', false],
      ['bind', `${SRC}/conf`, '/etc/db', true], // source binds are always read-only
      ['bind', `${DATA}/dump`, '/dump', false],
    ],
  );
  assert.equal(db.health?.intervalNs, 200e6);
  assert.deepEqual(plan.networks, [{ name: 'back', internal: true }, { name: 'default', internal: false }]);
  assert.deepEqual(plan.entry, { service: 'web', port: 80, healthPath: '/' });
  assert.equal(plan.update, 'start-first');

  // The container body carries the confinement whatever the file says.
  const body = containerBody(web, { names: new Names('webhost'), project: 'app1', deploymentId: 'd1', instanceId: 'i1', imageId: DIGEST, runtime: null, env: web.env, isEntry: true });
  assert.deepEqual(body.HostConfig.CapDrop, ['ALL']);
  assert.deepEqual(body.HostConfig.SecurityOpt, ['no-new-privileges:true']);
  assert.equal(body.HostConfig.Privileged, false);
  assert.equal(body.HostConfig.ReadonlyRootfs, true);
  assert.equal(body.HostConfig.MemorySwap, body.HostConfig.Memory);
  assert.deepEqual(body.HostConfig.PortBindings, {});
  assert.equal(body.HostConfig.NetworkMode, 'webhost_app1_i1_default');
  assert.equal(body.Labels?.['dstack-webhost.project'], 'app1');
});

test('attested mode: every image pinned by registry digest, named by its field', () => {
  refused(() => check(service({ image: 'nginx:1.27' }), true), 'services.app.image', { status: 422, code: 'image_not_pinned' });
  refused(() => check(service({ image: 'ghcr.io/org/app' }), true), 'services.app.image', { code: 'image_not_pinned' });
  check(service({ image: `ghcr.io/org/app@${DIGEST}` }), true);
  check(service({ image: `nginx:1.27@${DIGEST}` }), true);
  refused(() => parseDockerFields({ image: 'org/app:latest', image_port: 80 }, 'image', { attested: true }), 'image', { status: 422, code: 'image_not_pinned' });
  assert.equal(parseDockerFields({ image: `org/app@${DIGEST}`, image_port: 80 }, 'image', { attested: true }).image, `org/app@${DIGEST}`);
  // Dockerfile base images too.
  assert.deepEqual(unpinnedBaseImage('FROM node:20\nRUN x'), { line: 1, text: 'FROM node:20' });
  assert.equal(unpinnedBaseImage(`FROM node@${DIGEST} AS build\nFROM build\nFROM scratch`), null);
  assert.equal(unpinnedBaseImage('ARG B\nFROM ${B}')?.line, 2);
});

test('image references parse like the engine reads them', () => {
  assert.deepEqual(parseImageRef('nginx'), { registry: null, repository: 'nginx', tag: null, digest: null });
  assert.deepEqual(parseImageRef(`localhost:5000/a/b:1.0@${DIGEST}`), { registry: 'localhost:5000', repository: 'a/b', tag: '1.0', digest: DIGEST });
  for (const bad of ['UPPER/x', 'a b', 'x@sha256:abc', '', 'x:', '-x']) refused(() => checkImageRef(bad, 'image', false), 'image', { status: 400 });
});

test('volume names cannot escape the project namespace', () => {
  for (const name of ['../other', '/var/lib/docker', 'a/b', '.hidden', '-x', 'x'.repeat(64), 'webhost_other_data/..', 'a:b', '']) {
    refused(() => parseDockerFields({ image: 'a:1', image_port: 80, volumes: [{ name, mount: '/data' }] }, 'image'), 'volumes[0].name');
  }
  refused(() => parseDockerFields({ image: 'a:1', image_port: 80, volumes: [{ name: 'ok', mount: 'relative' }] }, 'image'), 'volumes[0].mount');
  refused(() => parseDockerFields({ image: 'a:1', image_port: 80, volumes: [{ name: 'ok', mount: '/' }] }, 'image'), 'volumes[0].mount');
  // A plain name that looks like someone else's volume is still scoped to this project.
  const n = new Names('webhost');
  assert.equal(n.volume('me', 'webhost_other_data'), 'webhost_me_webhost_other_data');
  // `_` never occurs in project names, so project "a" + volume "b-c" and project "a-b" + volume "c" differ.
  assert.notEqual(n.volume('a', 'b-c'), n.volume('a-b', 'c'));
  assert.throws(() => checkProject('a_b'), HttpError);
});

test("env_passthrough never forwards the daemon's secrets", () => {
  const none = new Set<string>();
  for (const name of ['TEE_DAEMON_TOKEN', 'WEBHOST_STATE_DIR', 'DSTACK_APP_ID', 'DAEMON_CONTAINER_RUNTIME', 'DOCKER_HOST']) {
    refused(() => parseEnvPassthrough([name], new Set([name])), 'env_passthrough[0]', { status: 400, code: 'env_passthrough_refused' });
  }
  for (const name of ['API_TOKEN', 'DB_PASSWORD', 'STRIPE_SECRET', 'OPENAI_API_KEY']) {
    refused(() => parseEnvPassthrough(['OK', name], none), 'env_passthrough[1]', { code: 'env_passthrough_refused' });
    assert.deepEqual(parseEnvPassthrough([name], new Set([name])), [name]); // the operator's allowlist lifts the pattern
  }
  refused(() => parseDockerFields({ image: 'a:1', image_port: 80, env_passthrough: ['TEE_DAEMON_TOKEN'] }, 'image'), 'env_passthrough[0]');
  assert.deepEqual(parseEnvPassthrough(['REGION', 'REGION', 'MISSING'], none), ['REGION', 'MISSING']);
  // Values come from the given source at start time; unset names are skipped.
  assert.deepEqual(resolvePassthrough(['REGION', 'MISSING'], { REGION: 'eu', TEE_DAEMON_TOKEN: 't' }, none), { REGION: 'eu' });
  assert.throws(() => resolvePassthrough(['TEE_DAEMON_TOKEN'], { TEE_DAEMON_TOKEN: 't' }, new Set(['TEE_DAEMON_TOKEN'])), HttpError);
});

test('manifest fields are checked per runtime and named', () => {
  refused(() => parseDockerFields({ image_port: 80 }, 'image'), 'image');
  refused(() => parseDockerFields({ image: 'a:1' }, 'image'), 'image_port');
  refused(() => parseDockerFields({ image: 'a:1', image_port: 70000 }, 'image'), 'image_port');
  refused(() => parseDockerFields({ compose_file: 'x.yaml' }, 'image'), 'compose_file');
  refused(() => parseDockerFields({ dockerfile: '../Dockerfile' }, 'dockerfile'), 'dockerfile');
  refused(() => parseDockerFields({ compose_file: 'a.yaml', compose: 'services: {}' }, 'compose'), 'compose');
  refused(() => parseDockerFields({ service: 'web' }, 'compose'), 'service_port');
  refused(() => parseDockerFields({ health_path: 'nope' }, 'compose'), 'health_path');
  assert.deepEqual(parseDockerFields({}, 'dockerfile'), { dockerfile: 'Dockerfile', imagePort: 8080 });
  // An inline compose file is policy-checked at manifest time when the data folder is known.
  refused(() => parseDockerFields({ compose: { services: { a: { image: 'a:1', privileged: true } } } }, 'compose', { dataDir: DATA }), 'services.a.privileged', { code: 'compose_forbidden' });
});

test('the multiplexed log format is parsed across arbitrary chunk boundaries', () => {
  const stream = Buffer.concat([encodeFrame('stdout', Buffer.from('hello ')), encodeFrame('stderr', Buffer.from('oops\n')), encodeFrame('stdout', Buffer.alloc(0)), encodeFrame('stdout', Buffer.from('world\n'))]);
  for (const size of [1, 3, 7, 8, 9, 64]) {
    const p = new FrameParser();
    const got: string[] = [];
    for (let i = 0; i < stream.length; i += size) for (const f of p.push(stream.subarray(i, i + size))) got.push(`${f.stream}:${f.payload}`);
    assert.deepEqual(got, ['stdout:hello ', 'stderr:oops\n', 'stdout:', 'stdout:world\n']);
    assert.equal(p.pending, 0);
  }
  assert.throws(() => new FrameParser().push(Buffer.from('HTTP/1.1 200 OK\r\n')), /not a multiplexed/);
});

test('compose value syntaxes', () => {
  assert.deepEqual(shellWords(`sh -c 'echo "a b"' "x\\"y" z\\ w`, 'f'), ['sh', '-c', 'echo "a b"', 'x"y', 'z w']);
  assert.equal(parseDuration('1m30s', 'f'), 90e9);
  assert.equal(parseDuration('250ms', 'f'), 250e6);
  assert.equal(parseBytes('512m', 'f'), 512 * 1024 * 1024);
  assert.equal(parseBytes('1G', 'f'), 1024 ** 3);
  refused(() => parseDuration('soon', 'f'), 'f');
});
