// The developer's project commands: deploy, ls, logs, redeploy, rollback, rm, promote.
import { parseArgs, type ParseArgsConfig } from 'node:util';
import { stat, readFile } from 'node:fs/promises';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import { CliError } from '../cli-error.ts';
import { resolveConnection } from '../connection.ts';
import { ApiClient } from '../api-client.ts';
import { packFolder } from '../pack.ts';
import { progressStream } from '../progress.ts';
import { validateName } from '../../projects/names.ts';
import { HttpError } from '../../lib/http-error.ts';

const COMMON = {
  url: { type: 'string' },
  token: { type: 'string' },
  json: { type: 'boolean' },
  help: { type: 'boolean', short: 'h' },
} as const satisfies ParseArgsConfig['options'];

function parse<O extends NonNullable<ParseArgsConfig['options']>>(command: string, argv: string[], options: O) {
  try {
    return parseArgs({ args: argv, options: { ...COMMON, ...options }, allowPositionals: true, strict: true });
  } catch (err) {
    throw new CliError(`${(err as Error).message} (see 'webhost ${command} --help')`, 2);
  }
}

async function client(values: { url?: string; token?: string }): Promise<ApiClient> {
  return new ApiClient(await resolveConnection(values));
}

function usage(text: string): number {
  console.log(text);
  return 0;
}

function oneName(command: string, positionals: string[]): string {
  if (positionals.length !== 1) throw new CliError(`expected exactly one project name (webhost ${command} <name>)`, 2);
  return positionals[0]!;
}

interface ProjectView {
  name: string;
  mode: string;
  runtime: string;
  status: string;
  source: string | null;
  ref: string | null;
  commit_sha: string | null;
  tree_hash: string | null;
  deployment_id: string;
  deployed_at: string;
  changed?: boolean;
}

function describe(p: ProjectView): string {
  const at = p.commit_sha ? `@${p.commit_sha.slice(0, 12)}` : p.tree_hash ? ` tree ${p.tree_hash.slice(0, 12)}` : '';
  return `${p.name}: ${p.runtime}, ${p.mode}, ${p.status} — ${p.source ?? 'upload'}${at} (deployment ${p.deployment_id.slice(0, 12)})`;
}

function appUrl(base: string, name: string): string {
  return `${base}/${name}/`;
}

export const DEPLOY_USAGE = `usage: webhost deploy <folder | git-url> --name NAME [options]

  A folder is packed and uploaded (without .git and node_modules); a URL (https://, ssh://,
  git@host:repo, file://) is cloned by the daemon at --ref.

  --name NAME        project name (a DNS label)
  --ref REF          git branch, tag or full commit SHA (git sources)
  --runtime R        deno | node | bun | python | static (default: autodetect)
  --entry FILE       entry file (default per runtime)
  --env KEY=VALUE    an env variable (repeatable); --env-file FILE reads KEY=VALUE lines
  --port N           also serve the project on a port of its own
  --url URL --token TOKEN   the daemon (default: WEBHOST_URL/WEBHOST_TOKEN, ~/.config/webhost/config.json, local daemon)`;

function parseEnvPairs(pairs: string[], fileText: string | undefined): Record<string, string> | undefined {
  const env: Record<string, string> = {};
  const lines = [...(fileText ?? '').split('\n').filter((l) => l.trim() && !l.trim().startsWith('#')), ...pairs];
  for (const line of lines) {
    const eq = line.indexOf('=');
    if (eq <= 0) throw new CliError(`--env expects KEY=VALUE, got '${line.split('=')[0]}'`, 2);
    env[line.slice(0, eq).trim()] = line.slice(eq + 1);
  }
  return lines.length ? env : undefined;
}

export async function deployCommand(argv: string[]): Promise<number> {
  const { values, positionals } = parse('deploy', argv, {
    name: { type: 'string' },
    ref: { type: 'string' },
    runtime: { type: 'string' },
    entry: { type: 'string' },
    env: { type: 'string', multiple: true },
    'env-file': { type: 'string' },
    port: { type: 'string' },
  });
  if (values.help) return usage(DEPLOY_USAGE);
  if (positionals.length !== 1) throw new CliError('expected one folder or git URL (webhost deploy <folder|git-url> --name NAME)', 2);
  if (!values.name) throw new CliError('--name is required', 2);
  try {
    validateName(values.name, '--name');
  } catch (err) {
    if (err instanceof HttpError) throw new CliError(err.message, 2);
    throw err;
  }
  const target = positionals[0]!;
  const envText = values['env-file'] ? await readFile(values['env-file'], 'utf8').catch(() => { throw new CliError(`cannot read --env-file ${values['env-file']}`, 2); }) : undefined;
  const manifest: Record<string, unknown> = {
    name: values.name,
    ...(values.ref ? { ref: values.ref } : {}),
    ...(values.runtime ? { runtime: values.runtime } : {}),
    ...(values.entry ? { entry: values.entry } : {}),
    ...(values.port ? { listen: { port: Number(values.port) } } : {}),
  };
  const env = parseEnvPairs(values.env ?? [], envText);
  if (env) manifest.env = env;
  const api = await client(values);
  // A URL (scheme://… or git@host:…) is a git source; anything else is a folder to upload.
  const isGitUrl = /^[a-z][a-z0-9+.-]*:\/\//i.test(target) || /^[\w.-]+@[\w.-]+:/.test(target);
  const isFolder = !isGitUrl && (await stat(target).then((s) => s.isDirectory(), () => false));
  if (!isGitUrl && !isFolder) throw new CliError(`${target} is neither a folder nor a git URL (https://…, ssh://…, git@host:…, file://…)`, 2);
  let res: Response;
  if (isFolder) {
    const { archive, files } = await packFolder(path.resolve(target));
    manifest.source = `upload:${path.basename(path.resolve(target))}`;
    const boundary = `----webhost${randomBytes(12).toString('hex')}`;
    const head = Buffer.from(
      `--${boundary}\r\ncontent-disposition: form-data; name="manifest"\r\ncontent-type: application/json\r\n\r\n${JSON.stringify(manifest)}\r\n` +
        `--${boundary}\r\ncontent-disposition: form-data; name="files"; filename="source.tar.gz"\r\ncontent-type: application/gzip\r\n\r\n`,
    );
    const body = Buffer.concat([head, archive, Buffer.from(`\r\n--${boundary}--\r\n`)]);
    process.stderr.write(`packed ${files} files from ${target}\n`);
    res = await api.request('POST', '/_api/projects', {
      body: progressStream(body, 'uploading') as unknown as BodyInit,
      headers: { 'content-type': `multipart/form-data; boundary=${boundary}` },
      duplex: 'half',
    });
  } else {
    manifest.source = target;
    process.stderr.write(`deploying ${target}${values.ref ? ` at ${values.ref}` : ''} ...\n`);
    res = await api.request('POST', '/_api/projects', { json: manifest });
  }
  const p = (await res.json()) as ProjectView;
  if (values.json) console.log(JSON.stringify(p, null, 2));
  else console.log(`${describe(p)}\n${appUrl(api.conn.url, p.name)}`);
  return 0;
}

export async function lsCommand(argv: string[]): Promise<number> {
  const { values } = parse('ls', argv, {});
  if (values.help) return usage('usage: webhost ls [--json]');
  const projects = await (await client(values)).json<ProjectView[]>('GET', '/_api/projects');
  if (values.json) {
    console.log(JSON.stringify(projects, null, 2));
    return 0;
  }
  if (projects.length === 0) {
    console.log('no projects');
    return 0;
  }
  const rows = [['NAME', 'MODE', 'RUNTIME', 'STATUS', 'SOURCE', 'COMMIT', 'DEPLOYED'], ...projects.map((p) => [p.name, p.mode, p.runtime, p.status, p.source ?? 'upload', (p.commit_sha ?? '').slice(0, 12) || '-', p.deployed_at.replace(/\.\d+Z$/, 'Z')])];
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)));
  for (const r of rows) console.log(r.map((c, i) => c.padEnd(widths[i]!)).join('  ').trimEnd());
  return 0;
}

export async function logsCommand(argv: string[]): Promise<number> {
  const { values, positionals } = parse('logs', argv, { follow: { type: 'boolean', short: 'f' }, tail: { type: 'string', short: 'n' } });
  if (values.help) return usage('usage: webhost logs <name> [-f] [-n LINES]');
  const name = oneName('logs', positionals);
  const q = new URLSearchParams({ tail: values.tail ?? '200', ...(values.follow ? { follow: '1' } : {}) });
  const res = await (await client(values)).request('GET', `/_api/projects/${encodeURIComponent(name)}/logs?${q}`);
  if (!res.body) return 0;
  for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) process.stdout.write(chunk);
  return 0;
}

async function action(command: string, argv: string[], verb: string, extra: Record<string, unknown> = {}): Promise<number> {
  const { values, positionals } = parse(command, argv, { to: { type: 'string' } });
  if (values.help) return usage(`usage: webhost ${command} <name>${command === 'rollback' ? ' [--to DEPLOYMENT_ID]' : ''}`);
  const name = oneName(command, positionals);
  const body = { ...extra, ...(values.to ? { deployment: values.to } : {}) };
  const p = await (await client(values)).json<ProjectView>('POST', `/_api/projects/${encodeURIComponent(name)}/${verb}`, body);
  if (values.json) console.log(JSON.stringify(p, null, 2));
  else console.log(`${describe(p)}${p.changed === false ? ' (unchanged)' : ''}`);
  return 0;
}

export const redeployCommand = (argv: string[]) => action('redeploy', argv, 'redeploy');
export const rollbackCommand = (argv: string[]) => action('rollback', argv, 'rollback');
export const promoteCommand = (argv: string[]) => action('promote', argv, 'promote');

export async function rmCommand(argv: string[]): Promise<number> {
  const { values, positionals } = parse('rm', argv, {});
  if (values.help) return usage('usage: webhost rm <name>');
  const name = oneName('rm', positionals);
  await (await client(values)).json('DELETE', `/_api/projects/${encodeURIComponent(name)}`);
  console.log(`removed ${name}`);
  return 0;
}
