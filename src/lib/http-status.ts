/**
 * One GET with node's own http client: the status, the body discarded.
 * For the hub's many small checks of servers (is it up?), where fetch's
 * streams, abort signals and request objects cost several times the request
 * itself (a thousand servers re-attached at start-up: about half the CPU).
 * Throws an Error whose `code` names a network failure, or 'ETIMEDOUT'.
 */
import http from 'node:http';
import https from 'node:https';

export function httpStatus(url: string, timeoutMs: number): Promise<number> {
  return new Promise((resolve, reject) => {
    const client = url.startsWith('https:') ? https : http;
    const req = client.get(url, (res) => {
      res.resume();
      resolve(res.statusCode ?? 0);
    });
    req.setTimeout(timeoutMs, () => req.destroy(Object.assign(new Error(`no answer within ${timeoutMs} ms`), { code: 'ETIMEDOUT' })));
    req.on('error', reject);
  });
}
