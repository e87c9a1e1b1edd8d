import { cpus, totalmem } from 'node:os';
import { PerformanceObserver } from 'node:perf_hooks';

/** One line naming the machine a bench ran on, for the README next to the figures. */
export function machineLine(): string {
  const cpu = cpus();
  return `${cpu[0]?.model ?? 'unknown CPU'}, ${cpu.length} cores, ${(totalmem() / 2 ** 30).toFixed(0)} GiB, Node.js ${process.version}, ${process.platform}/${process.arch}`;
}

export function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

export function table(header: readonly string[], rows: readonly (readonly (string | number)[])[]): string {
  const line = (cells: readonly (string | number)[]) => `| ${cells.join(' | ')} |`;
  return [line(header), line(header.map(() => '---')), ...rows.map(line)].join('\n');
}

/**
 * Counts garbage collections from now on: all of them, or those that started within
 * [from, to] (performance.now() times). Read it after `settleGcs()` (GC entries are delivered
 * asynchronously). None during a measured loop means no allocation per call.
 */
export function countGcs(): (from?: number, to?: number) => number {
  const starts: number[] = [];
  new PerformanceObserver((list) => {
    for (const entry of list.getEntries()) starts.push(entry.startTime);
  }).observe({ entryTypes: ['gc'] });
  return (from = -Infinity, to = Infinity) => starts.filter((t) => t >= from && t <= to).length;
}

export async function settleGcs(): Promise<void> {
  await new Promise((resolve) => setTimeout(resolve, 50));
}
