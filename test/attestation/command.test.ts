// `webhost simulator`: one-line errors and status 2 on bad flags; otherwise it serves until a
// signal and says where, with the root CA fingerprint.
import assert from 'node:assert/strict';
import { EventEmitter } from 'node:events';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { GuestAgentClient } from '../../src/attestation/guest-agent-client.ts';
import { simulatorCommand } from '../../src/attestation/simulator/command.ts';
import { tempDir } from '../helpers/tmp.ts';

async function capture<T>(fn: () => Promise<T>): Promise<{ result: T; out: string; err: string }> {
  const out: string[] = [];
  const err: string[] = [];
  const { log, error } = console;
  console.log = (...a: unknown[]) => void out.push(a.join(' '));
  console.error = (...a: unknown[]) => void err.push(a.join(' '));
  try {
    const result = await fn();
    return { result, out: out.join('\n'), err: err.join('\n') };
  } finally {
    console.log = log;
    console.error = error;
  }
}

test('bad flags: one line on stderr, exit status 2', async () => {
  for (const argv of [['--bogus'], ['--port', 'eighty'], ['--port', '70000'], ['--dir'], ['stray']]) {
    const { result, out, err } = await capture(() => simulatorCommand(argv));
    assert.equal(result, 2, argv.join(' '));
    assert.equal(out, '');
    assert.equal(err.split('\n').length, 1, err);
    assert.match(err, /^webhost simulator: .+ \(try --help\)$/);
  }
  const help = await capture(() => simulatorCommand(['--help']));
  assert.equal(help.result, 0);
  assert.match(help.out, /usage: webhost simulator/);
});

test('serves until SIGTERM, printing the socket, the HTTP URL and the root fingerprint', async () => {
  const dir = tempDir('wh-cmd-');
  const signals = new EventEmitter();
  const out: string[] = [];
  const { log } = console;
  console.log = (...a: unknown[]) => void out.push(a.join(' '));
  let running: Promise<number>;
  try {
    running = simulatorCommand(['--dir', dir, '--port', '0'], signals);
    while (!out.some((l) => l.startsWith('export '))) await new Promise((r) => setTimeout(r, 10));
  } finally {
    console.log = log;
  }
  const text = out.join('\n');
  const socket = path.join(dir, 'dstack.sock');
  assert.match(text, new RegExp(`socket +${socket.replace(/[.]/g, '\\.')}`));
  assert.match(text, /root CA sha256 [0-9a-f]{64}/);
  assert.match(text, /SIMULATED/);
  const url = /http +(http:\/\/127\.0\.0\.1:\d+)/.exec(text)?.[1];
  assert.ok(url);
  const client = new GuestAgentClient(url);
  assert.equal((await client.version()).version, '0.5.11');
  client.close();
  signals.emit('SIGTERM');
  assert.equal(await running, 0);
  await assert.rejects(new GuestAgentClient(socket).version(), /not reachable/);
});

test('an unusable state folder is a one-line error, status 1', async () => {
  const file = path.join(tempDir('wh-cmd-'), 'a-file');
  writeFileSync(file, 'x');
  const { result, err } = await capture(() => simulatorCommand(['--dir', path.join(file, 'sub')]));
  assert.equal(result, 1);
  assert.match(err, /^webhost simulator: /);
  assert.equal(err.split('\n').length, 1);
});
