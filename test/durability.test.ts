// A worker killed (SIGKILL) in the middle of sampling: a new worker finishes the experiment, and the
// endpoint bills exactly the planned requests, no batch or response paid twice.
import { describe, expect, it } from 'vitest';
import path from 'node:path';
import { crashStudy, startWorker, uniqueId, useTemporal, workerProcessForTest } from './support/harness.js';
import { experimentWorkflow } from '../workflows/experiment.js';
import { readdir, readFile } from 'node:fs/promises';
import { readProgress } from '../cli/progress.js';
import { SOURCES } from '../core/config.js';

process.env.WCSE_TEST_API_KEY = 'sk-test-durability';

/** Responses saved in the run directory: finished batches (meta) plus saved parts of unfinished ones. */
async function persistedRequests(runDir: string): Promise<number> {
  let total = 0;
  for (const source of ['wc', 'se']) {
    const sourceDir = path.join(runDir, 'samples', source);
    for (const round of await readdir(sourceDir).catch(() => [] as string[])) {
      const roundDir = path.join(sourceDir, round);
      for (const name of await readdir(roundDir)) {
        if (name.endsWith('.meta.json')) {
          total += JSON.parse(await readFile(path.join(roundDir, name), 'utf8')).ledger.requests;
        } else if (name.endsWith('.parts.jsonl')) {
          const batch = name.slice(0, -'.parts.jsonl'.length);
          const finished = await readFile(path.join(roundDir, `${batch}.meta.json`)).then(
            () => true,
            () => false,
          );
          const log = await readFile(path.join(roundDir, name), 'utf8').catch(() => '');
          if (!finished) total += log.split('\n').filter((line) => line.endsWith('}')).length;
        }
      }
    }
  }
  return total;
}

async function waitUntil(predicate: () => Promise<boolean>, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await predicate())) {
    if (Date.now() > deadline) throw new Error('condition not reached in time');
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

describe('worker crash mid-sampling', () => {
  const temporal = useTemporal();

  it('completes after a new worker takes over, with requests == planned and ledger == usage', async () => {
    const { client } = temporal;
    const questions = 24;
    // One request per sample, so many requests are in flight when the worker dies.
    const { dir, server, config } = await crashStudy('crash', questions, { wc: 1e9, se: 2e9 });
    const planned = { weak: questions * 4, strong: questions * 2 };
    const taskQueue = uniqueId('tq-crash');
    const runDir = path.join(dir, 'run');
    const workflowId = uniqueId('exp-crash');

    server.holdAfter(40);
    const first = await workerProcessForTest(taskQueue);
    const handle = await client.workflow.start(experimentWorkflow, {
      taskQueue,
      workflowId,
      args: [{ experimentId: workflowId, runDir, config }],
    });
    await server.waitForServed(40, 60_000);
    await server.waitForHeld(2, 60_000);
    // A response the worker received but had not yet written is lost with it, on any system; wait
    // until all 40 served responses are on disk so the test measures what the design can guarantee.
    await waitUntil(async () => (await persistedRequests(runDir)) === 40, 20_000);
    // Progress as `wcse status` reads it: the stage, and responses saved by batches still running.
    await waitUntil(async () => {
      const snapshot = await readProgress(client, workflowId);
      const saved = SOURCES.reduce(
        (sum, s) => sum + (snapshot.sampling[s]?.samplesDone ?? 0) + (snapshot.inFlightResponses[s] ?? 0),
        0,
      );
      return snapshot.experiment?.stage === 'sample' && saved === 40;
    }, 20_000);
    await first.kill();
    await server.waitFor((s) => s.held === 0, 10_000, 'held requests aborted by the dying worker');
    expect(server.stats.aborted).toBeGreaterThanOrEqual(2);
    server.release();

    const worker = await startWorker(taskQueue);
    try {
      const result = await handle.result();
      expect(server.stats.perModel.weak.served).toBe(planned.weak);
      expect(server.stats.perModel.strong.served).toBe(planned.strong);
      for (const [source, name] of [
        ['wc', 'weak'],
        ['se', 'strong'],
      ] as const) {
        const ledger = result.sampling[source].ledger;
        expect(ledger.requests).toBe(planned[name]);
        expect(ledger.promptTokens).toBe(server.stats.perModel[name].promptTokens);
        expect(ledger.completionTokens).toBe(server.stats.perModel[name].completionTokens);
      }
      expect(result.verify.wc.samples).toBe(questions * 4);
      expect(result.verify.wc.correct).toBe(questions * 2);
      // Every sample index appears exactly once per question.
      const verdicts = (await readFile(path.join(runDir, 'verdicts/wc.jsonl'), 'utf8'))
        .trim()
        .split('\n')
        .map((l) => JSON.parse(l));
      const keys = new Set(
        verdicts.map((v: { questionId: string; sampleIndex: number }) => `${v.questionId}#${v.sampleIndex}`),
      );
      expect(keys.size).toBe(questions * 4);
      // Some samples were paid by the dead worker's attempt and kept: attempt 1 and 2 both appear.
      const round = await readdir(path.join(runDir, 'samples/wc/round-0000'));
      expect(round.filter((name) => name.includes('.parts'))).toEqual([]);
    } finally {
      await worker.stop();
    }
  });
});
