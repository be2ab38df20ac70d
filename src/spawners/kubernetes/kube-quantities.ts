/**
 * Resource quantities as KubeSpawner writes them into a pod (pure).
 */

/** KubeSpawner's byte suffixes: powers of 1024 (`2G` is 2 × 2^30 bytes). */
const BYTE_SUFFIX_POWER: Record<string, number> = { K: 1, M: 2, G: 3, T: 4, P: 5, E: 6 };

/**
 * A memory amount (`mem_limit`, `mem_guarantee`) as a Kubernetes quantity:
 * a number or digits are bytes; `K`, `M`, `G`, `T`, `P`, `E` without `i` are
 * powers of 1024 as in KubeSpawner (`2G` → `2147483648`); a Kubernetes suffix
 * (`Gi`, `Mi`, `Ki`, `k`, `m`...) is kept as it is.
 *
 * @throws Error when `value` is not such an amount.
 */
export function memoryQuantity(value: string | number): string {
  if (typeof value === 'number') {
    if (!Number.isFinite(value) || value < 0) throw new Error(`not a memory amount: ${value}`);
    return String(Math.floor(value));
  }
  const m = /^([0-9]+(?:\.[0-9]+)?)([KMGTPE]i?|[mk])?$/.exec(value);
  if (!m) throw new Error(`not a memory amount: ${JSON.stringify(value.slice(0, 40))}`);
  const [, num, suffix] = m as unknown as [string, string, string | undefined];
  if (suffix === undefined) return num.split('.')[0]!;
  const power = BYTE_SUFFIX_POWER[suffix];
  if (power === undefined) return value;
  const [whole, fraction = ''] = num.split('.') as [string, string?];
  // exact: digits × 1024^power ÷ 10^(fraction digits), rounded down to whole bytes
  return ((BigInt(whole + fraction) * 1024n ** BigInt(power)) / 10n ** BigInt(fraction.length)).toString();
}

/** CPU cores as a Kubernetes quantity: whole cores as digits (`2`), else millicores (`0.5` → `500m`; at least `1m`). */
export function cpuQuantity(cores: number): string {
  if (!Number.isFinite(cores) || cores <= 0) throw new Error(`not a number of CPU cores: ${cores}`);
  if (Number.isInteger(cores)) return String(cores);
  return `${Math.max(1, Math.round(cores * 1000))}m`;
}
