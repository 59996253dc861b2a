// The daemon-side readiness probe: an HTTP request to the entry service's address, exactly the
// way the ingress will reach it. Any answer below 500 means "serving" (a 404 on / is a live app;
// a 502 from a proxy whose backend is not up yet is not).
import http from 'node:http';

export async function probeHttp(host: string, port: number, path: string, timeoutMs: number): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = http.request({ host, port, path, method: 'GET', agent: false, timeout: timeoutMs, headers: { 'user-agent': 'dstack-webhost-readiness' } }, (res) => {
      res.resume();
      resolve(res.statusCode ?? 0);
    });
    req.on('timeout', () => req.destroy(new Error(`no answer within ${timeoutMs} ms`)));
    req.on('error', reject);
    req.end();
  });
}

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));
