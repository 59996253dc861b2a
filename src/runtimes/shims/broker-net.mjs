// The broker exchange for the node and bun shims: one request line over node:net, one answer line
// back (see common.mjs makeCtx; the deno shim uses Deno.connect instead).
import net from 'node:net';

export function exchange(path, line, timeoutMs) {
  return new Promise((resolve, reject) => {
    const s = net.createConnection(path);
    let buf = '';
    s.setEncoding('utf8');
    s.setTimeout(timeoutMs, () => s.destroy(Object.assign(new Error('timed out'), { code: 'ETIMEDOUT' })));
    s.on('connect', () => s.write(line + '\n'));
    s.on('data', (chunk) => {
      buf += chunk;
      const nl = buf.indexOf('\n');
      if (nl >= 0) {
        resolve(buf.slice(0, nl));
        s.destroy();
      }
    });
    s.on('error', reject);
    s.on('close', () => reject(Object.assign(new Error('closed without an answer'), { code: 'ECONNRESET' })));
  });
}
