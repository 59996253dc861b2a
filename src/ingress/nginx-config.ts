// Renders the nginx configuration for the nginx data plane: nginx proxies the apps that run as
// processes (path, host and port routing) straight to their sockets; everything else — the API,
// pages, static sites, redirects, errors — goes to the daemon's own ingress on a unix socket,
// which applies exactly the same rules as the in-process data plane.
import type { Route } from './route-table.ts';

/**
 * nginx reaches each app through a stable per-project symlink to its current instance's socket,
 * so a redeploy swaps the link (connect() follows it) instead of reloading nginx. Pooled upstream
 * connections live at most this long, so within it nginx stops using the old instance by itself.
 */
export const UPSTREAM_KEEPALIVE_SECONDS = 1;

export function upstreamLink(prefix: string, name: string): string {
  return `${prefix}/upstreams/${name}.sock`;
}

export interface NginxConfigInput {
  prefix: string;
  port: number;
  host: string;
  baseDomain: string;
  daemonSocket: string;
  trustProxy: boolean;
  upstreamTimeoutMs: number;
  routes: Array<{ name: string; route: Route; port: number | undefined }>;
  workers: number;
}

/** Everything interpolated into the config is validated elsewhere (DNS-label names, our own paths); this refuses anything else. */
function safe(value: string): string {
  if (!/^[A-Za-z0-9_./:-]+$/.test(value)) throw new Error(`refusing to write ${JSON.stringify(value)} into the nginx config`);
  return value;
}

function listen(host: string, port: number, isDefault = false): string {
  const addr = host === '0.0.0.0' || host === '' ? `${port}` : `${safe(host)}:${port}`;
  return `listen ${addr}${isDefault ? ' default_server' : ''};`;
}

/**
 * Requests nginx hands to the daemon's own ingress, unchanged but for two headers the daemon
 * trusts on its internal socket only: the client address and the project port they came in on.
 */
function toDaemon(port: number | ''): string {
  return `proxy_pass http://webhost_daemon;
      proxy_set_header Host $http_host;
      proxy_set_header X-Webhost-Remote $remote_addr;
      proxy_set_header X-Webhost-Port "${port}";
      proxy_set_header Upgrade $http_upgrade;
      proxy_set_header Connection $connection_upgrade;
      access_log off;`;
}

/** Requests nginx proxies straight to an app's socket, with the same headers the in-process plane sets. */
function toApp(upstream: string, prefix: string, path: string, trustProxy: boolean, accessLog: string): string {
  return `proxy_pass http://${upstream}${path};
      proxy_set_header Host $http_host;
      proxy_set_header X-Forwarded-For ${trustProxy ? '$proxy_add_x_forwarded_for' : '$remote_addr'};
      proxy_set_header X-Forwarded-Proto ${trustProxy ? '$webhost_proto' : 'http'};
      proxy_set_header X-Forwarded-Host ${trustProxy ? '$webhost_fwd_host' : '$http_host'};
      proxy_set_header X-Forwarded-Prefix "${prefix}";
      proxy_set_header X-Webhost-Probe "";
      proxy_set_header Upgrade $http_upgrade;
      proxy_set_header Connection $connection_upgrade;
      access_log ${accessLog};`;
}

/** nginx appends access-log lines to this file; the daemon tails it (see log-tail.ts). */
export const ACCESS_LOG_NAME = 'access.log';

const ERROR_PAGES = `    error_page 502 503 = @app_unavailable;
    error_page 504 = @app_timeout;
    location @app_unavailable { default_type application/json; return 502 '{"error":"the app is not answering","code":"app_unavailable"}'; }
    location @app_timeout { default_type application/json; return 504 '{"error":"the app did not answer in time","code":"app_timeout"}'; }`;

export function renderNginxConfig(c: NginxConfigInput): string {
  const accessLog = `${safe(c.prefix)}/${ACCESS_LOG_NAME} webhost buffer=32k flush=200ms`;
  const proxied = c.routes.filter((r) => r.route.kind === 'proxy');
  const up = (name: string) => `app_${safe(name).replace(/-/g, '_')}`;
  const upstreams = proxied
    .map((r) => `  upstream ${up(r.name)} { server unix:${safe(upstreamLink(c.prefix, r.name))}; keepalive 64; keepalive_timeout ${UPSTREAM_KEEPALIVE_SECONDS}s; keepalive_time ${UPSTREAM_KEEPALIVE_SECONDS}s; }`)
    .join('\n');
  const pathLocations = proxied
    .map(
      (r) => `    location = /${r.name} { ${toDaemon('')} }
    location = /${r.name}/.well-known/tee-attestation { ${toDaemon('')} }
    location /${r.name}/ {
      set $webhost_project ${r.name};
      ${toApp(up(r.name), `/${r.name}`, '/', c.trustProxy, accessLog)}
    }`,
    )
    .join('\n');
  const hostServers = c.baseDomain
    ? proxied.map(
        (r) => `  server {
    ${listen(c.host, c.port)}
    server_name ${r.name}.${safe(c.baseDomain)};
    set $webhost_project ${r.name};
    location = /.well-known/tee-attestation { ${toDaemon('')} }
    location / {
      ${toApp(up(r.name), '', '', c.trustProxy, accessLog)}
    }
${ERROR_PAGES}
  }`,
      )
    : [];
  const portServers = c.routes
    .filter((r) => r.port !== undefined)
    .map(
      (r) => `  server {
    ${listen(c.host, r.port!, true)}
    set $webhost_project ${r.name};
    location = /.well-known/tee-attestation { ${toDaemon(r.port!)} }
    location / {
      ${r.route.kind === 'proxy' ? toApp(up(r.name), '', '', c.trustProxy, accessLog) : toDaemon(r.port!)}
    }
${ERROR_PAGES}
  }`,
    );
  const timeout = Math.max(1, Math.round(c.upstreamTimeoutMs / 1000));
  const prefix = safe(c.prefix);
  return `# Generated by dstack-webhost; rewritten on every route change. Do not edit.
worker_processes ${c.workers};
user root root;
pid ${prefix}/nginx.pid;
error_log stderr warn;
events { worker_connections 4096; }
http {
  client_body_temp_path ${prefix}/tmp/body;
  proxy_temp_path ${prefix}/tmp/proxy;
  fastcgi_temp_path ${prefix}/tmp/fastcgi;
  uwsgi_temp_path ${prefix}/tmp/uwsgi;
  scgi_temp_path ${prefix}/tmp/scgi;
  server_tokens off;
  client_max_body_size 0;
  proxy_http_version 1.1;
  proxy_buffering off;
  proxy_request_buffering off;
  proxy_redirect off;
  proxy_intercept_errors off;
  proxy_connect_timeout 5s;
  proxy_read_timeout ${timeout}s;
  proxy_send_timeout ${timeout}s;
  keepalive_timeout 5s;
  map $http_upgrade $connection_upgrade { default upgrade; '' ''; }
  map $http_x_forwarded_proto $webhost_proto { default $http_x_forwarded_proto; '' http; }
  map $http_x_forwarded_host $webhost_fwd_host { default $http_x_forwarded_host; '' $http_host; }
  log_format webhost escape=json '{"time":"$time_iso8601","project":"$webhost_project","method":"$request_method","path":"$uri","status":$status,"duration_ms":$request_time,"bytes":$bytes_sent}';
  upstream webhost_daemon { server unix:${safe(c.daemonSocket)}; keepalive 32; }
${upstreams}
  server {
    ${listen(c.host, c.port, true)}
    server_name _;
    set $webhost_project "";
    location / { ${toDaemon('')} }
${pathLocations}
${ERROR_PAGES}
  }
${[...hostServers, ...portServers].join('\n')}
}
`;
}
