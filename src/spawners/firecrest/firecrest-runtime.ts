/**
 * Run times of the FirecREST spawner: the form's hours (user option
 * `runtime`) and Slurm's time limit text (`req_runtime`, the script's
 * `runtime`). Pure functions.
 */

/**
 * Hours as Slurm's `HH:MM:SS` (hours may exceed 24): rounded to the second,
 * at least one second. `1.5` → `01:30:00`, `36` → `36:00:00`.
 */
export function hoursToRuntime(hours: number): string {
  const total = Math.max(1, Math.round(hours * 3600));
  const h = Math.floor(total / 3600);
  const m = Math.floor((total % 3600) / 60);
  const s = total % 60;
  const two = (n: number) => String(n).padStart(2, '0');
  return `${two(h)}:${two(m)}:${two(s)}`;
}

const CLOCK = /^(?:(\d{1,4})-)?(\d{1,5}):(\d{1,2}):(\d{1,2})$/;
const MINUTES = /^\d{1,7}$/;

/**
 * A Slurm time limit as hours: `HH:MM:SS`, `D-HH:MM:SS` or whole minutes;
 * undefined for any other text, or for zero.
 */
export function runtimeToHours(text: string): number | undefined {
  let seconds: number;
  if (MINUTES.test(text)) seconds = Number(text) * 60;
  else {
    const m = CLOCK.exec(text);
    if (!m) return undefined;
    const [days, h, min, s] = [Number(m[1] ?? 0), Number(m[2]), Number(m[3]), Number(m[4])];
    if (min > 59 || s > 59) return undefined;
    seconds = ((days * 24 + h) * 60 + min) * 60 + s;
  }
  return seconds > 0 ? seconds / 3600 : undefined;
}
