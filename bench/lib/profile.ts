/** Summaries of V8 CPU profiles (`node --cpu-prof`): where the busy time goes. */
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { ROOT } from './hubs.js';
import { table } from './report.js';

interface CpuNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  hitCount?: number;
}

interface CpuProfile {
  nodes: CpuNode[];
  startTime: number;
  endTime: number;
  samples?: number[];
}

/** Where a frame's code lives: an npm package, a file of ours, node's internals, or a V8 pseudo-frame. */
function owner(url: string, fn: string): string {
  if (!url) return fn.startsWith('(') ? fn : '(native)';
  const nm = url.lastIndexOf('/node_modules/');
  if (nm >= 0) {
    const rest = url.slice(nm + 14).split('/');
    return rest[0]!.startsWith('@') ? `${rest[0]}/${rest[1]}` : rest[0]!;
  }
  if (url.startsWith('node:')) return url;
  const file = url.replace(/^file:\/\//, '');
  return file.startsWith(ROOT) ? file.slice(ROOT.length) : file;
}

/** A frame's file, shortened: `pkg/path/in/package.js`, `dist/...`, `node:...`. */
function where(url: string): string {
  const nm = url.lastIndexOf('/node_modules/');
  if (nm >= 0) return url.slice(nm + 14);
  const file = url.replace(/^file:\/\//, '');
  return file.startsWith(ROOT) ? file.slice(ROOT.length) : file;
}

export interface ProfileSummary {
  busyMs: number;
  text: string;
}

/** Self time by function and by owner (package or file), idle excluded. */
export function summarizeProfile(file: string, top = 15): ProfileSummary {
  const prof = JSON.parse(readFileSync(file, 'utf8')) as CpuProfile;
  const totalSamples = prof.samples?.length ?? prof.nodes.reduce((a, n) => a + (n.hitCount ?? 0), 0);
  const msPerSample = totalSamples ? (prof.endTime - prof.startTime) / 1000 / totalSamples : 0;
  const byFn = new Map<string, number>();
  const byOwner = new Map<string, number>();
  let busy = 0;
  for (const n of prof.nodes) {
    const hits = n.hitCount ?? 0;
    if (!hits) continue;
    const { functionName, url, lineNumber } = n.callFrame;
    if (functionName === '(idle)') continue;
    busy += hits;
    const o = owner(url, functionName);
    const key = `${functionName || '(anonymous)'}  ${where(url)}${url ? `:${lineNumber + 1}` : ''}`;
    byFn.set(key, (byFn.get(key) ?? 0) + hits);
    byOwner.set(o, (byOwner.get(o) ?? 0) + hits);
  }
  const pct = (h: number) => `${((100 * h) / (busy || 1)).toFixed(1)}%`;
  const rows = (m: Map<string, number>) =>
    [...m.entries()]
      .sort((a, b) => b[1] - a[1])
      .slice(0, top)
      .map(([k, h]) => [pct(h), `${((h * msPerSample) / 1000).toFixed(2)} s`, k]);
  const text = [
    `busy (non-idle) CPU time in the profile: ${((busy * msPerSample) / 1000).toFixed(1)} s`,
    '',
    'self time by package / file:',
    table(['self', 'time', 'package or file'], rows(byOwner)),
    '',
    'self time by function:',
    table(['self', 'time', 'function  location'], rows(byFn)),
  ].join('\n');
  return { busyMs: busy * msPerSample, text };
}

/** The newest .cpuprofile in `dir`, if any. */
export function newestProfile(dir: string): string | undefined {
  let files: string[];
  try {
    files = readdirSync(dir).filter((f) => f.endsWith('.cpuprofile'));
  } catch {
    return undefined;
  }
  files.sort();
  const last = files[files.length - 1];
  return last ? path.join(dir, last) : undefined;
}
