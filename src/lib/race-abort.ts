/**
 * Races `work` against `signal`: rejects with `error()` as soon as the signal
 * aborts (at once when it already has). `work` is always observed, so its
 * later rejection is never unhandled (which would end the hub process), and a
 * result it produces after the race was lost is handed to `onLate`: the
 * caller stops that server, which would otherwise run unknown to the hub.
 */
export async function raceAbort<T>(work: Promise<T>, signal: AbortSignal, error: () => Error, onLate: (late: T) => void): Promise<T> {
  let lost = false;
  const observed = work.then((result) => {
    if (lost) onLate(result);
    return result;
  });
  observed.catch(() => undefined);
  if (signal.aborted) {
    lost = true;
    throw error();
  }
  let onAbort: (() => void) | undefined;
  const aborted = new Promise<never>((_, reject) => {
    onAbort = () => {
      lost = true;
      reject(error());
    };
    signal.addEventListener('abort', onAbort, { once: true });
  });
  try {
    return await Promise.race([observed, aborted]);
  } finally {
    if (onAbort) signal.removeEventListener('abort', onAbort);
  }
}
