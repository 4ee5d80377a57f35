// Every stage after sampling streams: analyse and datasets run over a generated verdict stream at two
// sizes, 10x apart, in child processes, and their peak memory stays about the same (a stage that held a
// whole source would need ~1.5 KB more per sample: ~700 MB more at the larger size).
import { execFile } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';

const run = promisify(execFile);
const CHILD = 'test/support/stream-memory-child.ts';
const QUESTIONS = 5000;

interface Measured {
  maxRssBytes: number;
  heapPeakBytes: number;
  ms: { analyse: number; datasets: number };
  metricsSamples: number;
  coverageAtS: number | null;
  examples: number;
  duplicates: number;
}

async function measureAt(perQuestion: number): Promise<Measured & { correct: number }> {
  const runDir = await mkdtemp(path.join(os.tmpdir(), 'wcse-stream-memory-'));
  try {
    const node = (...args: string[]) =>
      run(process.execPath, ['--import', 'tsx', CHILD, ...args], { maxBuffer: 1 << 20 });
    const generated = await node('generate', runDir, String(QUESTIONS), String(perQuestion));
    const { correct } = JSON.parse(generated.stdout.trim().split('\n').at(-1)!) as { correct: number };
    const measured = await node('measure', runDir);
    return { ...(JSON.parse(measured.stdout.trim().split('\n').at(-1)!) as Measured), correct };
  } finally {
    await rm(runDir, { recursive: true, force: true });
  }
}

describe('analyse and datasets stream', () => {
  it('use about the same memory at 50k and 500k verified samples', { timeout: 900_000 }, async () => {
    const small = await measureAt(10);
    const large = await measureAt(100);
    const mib = (bytes: number) => Math.round(bytes / 2 ** 20);
    console.log(
      `stream memory: 50k samples peak RSS ${mib(small.maxRssBytes)} MiB (heap ${mib(small.heapPeakBytes)}), ` +
        `${JSON.stringify(small.ms)}; 500k samples peak RSS ${mib(large.maxRssBytes)} MiB ` +
        `(heap ${mib(large.heapPeakBytes)}), ${JSON.stringify(large.ms)}`,
    );
    // The stages saw every sample and kept every correct one.
    expect(small.metricsSamples).toBe(QUESTIONS * 10);
    expect(large.metricsSamples).toBe(QUESTIONS * 100);
    expect(large.examples).toBe(large.correct);
    expect(large.correct).toBeGreaterThan(QUESTIONS * 50);
    expect(large.duplicates).toBeGreaterThan(0);
    expect(large.coverageAtS).toBe(1);
    // 450k more samples (~300 MB of sample files): the peak grows by far less than one byte per sample.
    expect(large.maxRssBytes - small.maxRssBytes).toBeLessThan(150 * 2 ** 20);
    expect(large.heapPeakBytes).toBeLessThan(1.5 * small.heapPeakBytes + 100 * 2 ** 20);
  });
});
