// The readiness probe: one HTTP request over the instance's socket that the shim answers itself
// (204) without calling the app. Only the daemon can send it: the ingress strips x-webhost-*.
import http from 'node:http';

export const PROBE_HEADER = 'x-webhost-probe';

/** True when the shim answered the probe; false when nothing listens yet or it answered wrongly. */
export function probeSocket(socketPath: string, timeoutMs: number): Promise<boolean> {
  return new Promise((resolve) => {
    const req = http.request({
      socketPath,
      path: '/',
      method: 'GET',
      headers: { host: 'localhost', [PROBE_HEADER]: '1', connection: 'close' },
      agent: false,
      timeout: timeoutMs,
    });
    req.on('response', (res) => {
      res.resume();
      resolve(res.statusCode === 204);
    });
    req.on('timeout', () => req.destroy());
    req.on('error', () => resolve(false));
    req.end();
  });
}
