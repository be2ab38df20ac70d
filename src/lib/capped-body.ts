/**
 * Reading an HTTP answer from a server the hub does not trust with a size
 * limit: a declared `content-length` over the limit is refused before
 * reading, and a body that grows past it is cut off (the rest is never
 * downloaded). Used by the FirecREST client and the service-account token.
 */

/** The body of `res` as UTF-8 text, or undefined when it is longer than `maxBytes` (the stream is then cancelled). */
export async function readCappedText(res: Response, maxBytes: number): Promise<string | undefined> {
  const declared = Number(res.headers.get('content-length') ?? 'NaN');
  if (Number.isFinite(declared) && declared > maxBytes) {
    await res.body?.cancel().catch(() => undefined);
    return undefined;
  }
  if (!res.body) return '';
  const reader = res.body.getReader();
  const chunks: Uint8Array[] = [];
  let size = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    size += value.byteLength;
    if (size > maxBytes) {
      await reader.cancel().catch(() => undefined);
      return undefined;
    }
    chunks.push(value);
  }
  return Buffer.concat(chunks).toString('utf8');
}

/** Drops the body of an answer the caller does not read, so the connection can be reused. */
export async function discardBody(res: Response): Promise<void> {
  await res.body?.cancel().catch(() => undefined);
}
