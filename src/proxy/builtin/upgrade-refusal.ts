/**
 * A target's answer to a websocket upgrade that is not `101 Switching
 * Protocols`: relayed to the client as a plain HTTP answer (framed by
 * `ResponseParser`, as any answer is), then the client socket is closed.
 * No byte the client sent after its upgrade request ever reaches the target,
 * so a refused upgrade never becomes a raw tunnel to it.
 */
import type { Duplex } from 'node:stream';
import { ResponseParser, type ResponseHead, type ResponseSink } from './response-parser.js';
import { MAX_RESPONSE_HEAD_BYTES } from './upstreams.js';

/** Where the status line of an answer head says 101. */
const SWITCHING = /^HTTP\/1\.1 101[ \r]/;

/** What the first bytes of a target's answer to an upgrade turn out to be. */
export type UpgradeAnswer =
  /** The head is not complete yet: wait for more bytes. */
  | { kind: 'more' }
  /** `101`: the bytes read so far (head and any tunnel bytes after it) go to the client as they are. */
  | { kind: 'switch'; bytes: Buffer }
  /** Any other answer: relay it with {@link relayRefusal}. */
  | { kind: 'refuse'; bytes: Buffer };

/**
 * Classifies the answer bytes read so far (`bytes`: all of them, in order).
 * Throws when the head grows past the proxy's head limit without ending.
 */
export function classifyUpgradeAnswer(bytes: Buffer): UpgradeAnswer {
  const end = bytes.indexOf('\r\n\r\n', 0, 'latin1');
  if (end === -1) {
    if (bytes.length > MAX_RESPONSE_HEAD_BYTES) throw new Error(`answer head larger than ${MAX_RESPONSE_HEAD_BYTES} bytes`);
    return { kind: 'more' };
  }
  return SWITCHING.test(bytes.toString('latin1', 0, Math.min(end + 2, 64))) ? { kind: 'switch', bytes } : { kind: 'refuse', bytes };
}

/** A non-101 answer being relayed to the client; see {@link relayRefusal}. */
export interface Refusal {
  /** Feeds the target's bytes; throws on an invalid answer. */
  push(chunk: Buffer): void;
  /** The target closed its side; throws if the answer is incomplete. */
  end(): void;
  /** Whether the answer's head has been written to the client. */
  readonly headSent: boolean;
  /** Whether the whole answer has been written and the client socket is being ended. */
  readonly ended: boolean;
}

/**
 * Relays a non-101 answer to the client: its head (hop-by-hop headers
 * dropped, `Connection: close` added), its body (the `Content-Length` kept,
 * else delimited by the close), then ends the client socket and calls
 * `onDone`. After a throw from `push` or `end` the caller destroys both sockets.
 */
export function relayRefusal(client: Duplex, onDone: () => void): Refusal {
  let done = false;
  let headSent = false;
  const sink: ResponseSink = {
    onHead(head: ResponseHead): void {
      let text = `HTTP/1.1 ${head.statusCode} ${head.statusText}\r\n`;
      const h = head.headers;
      for (let i = 0; i + 1 < h.length; i += 2) text += `${h[i] as string}: ${h[i + 1] as string}\r\n`;
      headSent = true;
      client.write(`${text}Connection: close\r\n\r\n`, 'latin1');
    },
    onBody(chunk: Buffer): void {
      client.write(Buffer.from(chunk));
    },
    onEnd(): void {
      if (done) return;
      done = true;
      client.end(onDone);
    },
  };
  const parser = new ResponseParser(sink, MAX_RESPONSE_HEAD_BYTES);
  parser.begin(false);
  return {
    push: (chunk) => parser.push(chunk),
    end: () => parser.end(),
    get headSent() {
      return headSent;
    },
    get ended() {
      return done;
    },
  };
}
