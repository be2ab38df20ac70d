/**
 * Tools of the machine the benchmarks run on: where a command is, and pinning
 * processes to CPUs (util-linux `taskset`).
 */
import { execFileSync } from 'node:child_process';
import os from 'node:os';

/** The path of `name` on PATH, or undefined when it is not installed. */
export function commandPath(name: string): string | undefined {
  try {
    return execFileSync('sh', ['-c', `command -v ${name}`], { encoding: 'utf8' }).trim() || undefined;
  } catch {
    return undefined;
  }
}

/** Whether processes can be pinned to CPUs here (`taskset`, two CPUs or more). */
export function canPin(): boolean {
  return os.availableParallelism() >= 2 && commandPath('taskset') !== undefined;
}

/** Sets the CPU affinity of every thread of `pid` (`cpus`: a taskset list such as `0` or `0-1`). */
export function pin(pid: number, cpus: string): void {
  execFileSync('taskset', ['-a', '-p', '-c', cpus, String(pid)], { stdio: 'ignore' });
}
