/**
 * The body of a port report (`POST /hub/api/batchspawner`, `/firecrestspawner`),
 * checked without any I/O. See port-report.ts for who may send one.
 */
import { HubError } from '../lib/errors.js';
import { isPlainObject } from '../config/load.js';
import { quoteName } from '../lib/quote-name.js';

/** The lowest and highest port a report may name. */
export const REPORTED_PORT_MIN = 1;
export const REPORTED_PORT_MAX = 65535;

/**
 * The port in a report body, which must be a JSON object holding `port`: a
 * JSON integer from 1 to 65535. A numeric string (`"8888"`) is refused:
 * `batchspawner-singleuser` and `firecrestspawner-singleuser` both send a JSON
 * number, so a string means some other client, and a refusal tells it early.
 *
 * No other field is taken, with one exception: `server_name`, which
 * batchspawner-singleuser releases before 1.3 sent along with the port. It
 * is accepted only when it equals the name of the server the token belongs
 * to (`tokenServer`), so it changes nothing; any other value is a 400. The
 * server a report is for always comes from the token, never from the body.
 *
 * @param body the parsed JSON body (anything)
 * @param tokenServer the server name of the presenting token ('' = default server)
 * @returns the port
 * @throws HubError(400) naming every unknown field, or what is wrong with `port` or `server_name`
 */
export function reportedPortOf(body: unknown, tokenServer: string): number {
  if (!isPlainObject(body)) throw new HubError(400, 'port report: the body must be a JSON object like {"port": 8888}');
  const unknown = Object.keys(body).filter((k) => k !== 'port' && k !== 'server_name');
  if (unknown.length) {
    const shown = unknown.slice(0, 5).map((k) => quoteName(k));
    const more = unknown.length > shown.length ? ` and ${unknown.length - shown.length} more` : '';
    throw new HubError(400, `port report: unknown field${unknown.length > 1 ? 's' : ''} ${shown.join(', ')}${more}; only "port" is accepted`);
  }
  if ('server_name' in body) {
    const name = body['server_name'];
    if (name !== tokenServer) {
      throw new HubError(400, `port report: "server_name" ${typeof name === 'string' ? quoteName(name) : 'of the wrong type'} is not the server this token belongs to; leave it out`);
    }
  }
  if (!('port' in body)) throw new HubError(400, 'port report: field "port" is missing');
  const port = body['port'];
  if (typeof port !== 'number' || !Number.isInteger(port) || port < REPORTED_PORT_MIN || port > REPORTED_PORT_MAX) {
    const got = typeof port === 'string' ? `the string ${quoteName(port)}` : clipJson(port);
    throw new HubError(400, `port report: "port" must be a JSON integer from ${REPORTED_PORT_MIN} to ${REPORTED_PORT_MAX}, got ${got}`);
  }
  return port;
}

function clipJson(value: unknown): string {
  const text = JSON.stringify(value) ?? String(value);
  return text.length > 40 ? `${text.slice(0, 40)}…` : text;
}
