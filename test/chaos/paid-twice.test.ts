// Paid twice (issue 13, item 5): a worker killed (SIGKILL) while responses are arriving. A response that
// arrived and was not yet saved, and a request aborted in flight, are bought again by the next worker;
// the ledger counts every one of them (`repaidRequests`) and charges them to the budget at their worst
// case. The scripted server's counts are the truth: every request it received beyond the planned ones.
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { flopsFor } from '../../core/plan.js';
import { experimentWorkflow } from '../../workflows/experiment.js';
import { crashStudy, startWorker, uniqueId, useTemporal, workerProcessForTest } from '../support/harness.js';

process.env.WCSE_TEST_API_KEY = 'sk-test-chaos-paid-twice';

describe('a worker killed while responses arrive', () => {
  const temporal = useTemporal();

  it('puts every request bought twice in the ledger and charges it to the budget', async () => {
    const questions = 16;
    const params = { weak: 1e9, strong: 2e9 };
    const maxTokens = 64;
    const { dir, server, config } = await crashStudy('paid-twice', questions, {
      wc: params.weak,
      se: params.strong,
    });
    const planned = { weak: questions * 4, strong: questions * 2 };
    const taskQueue = uniqueId('tq-paid-twice');
    const workflowId = uniqueId('exp-paid-twice');

    // Kill the worker the moment the 30th response is written, without waiting for it to be saved, while
    // further requests are held in flight.
    server.holdAfter(30);
    const first = await workerProcessForTest(taskQueue);
    const handle = await temporal.client.workflow.start(experimentWorkflow, {
      taskQueue,
      workflowId,
      args: [{ experimentId: workflowId, runDir: path.join(dir, 'run'), config }],
    });
    await server.waitForServed(30, 60_000);
    await server.waitForHeld(2, 60_000);
    await first.kill();
    await server.waitFor((s) => s.held === 0, 10_000, 'held requests aborted by the dying worker');
    server.release();

    const worker = await startWorker(taskQueue);
    try {
      const result = await handle.result();
      for (const [source, name] of [
        ['wc', 'weak'],
        ['se', 'strong'],
      ] as const) {
        const stats = server.stats.perModel[name];
        const ledger = result.sampling[source].ledger;
        expect(ledger.requests).toBe(planned[name]);
        // Bought twice for sure (served beyond the plan) is counted, and so is every send aborted in
        // flight: every request the server received beyond the plan. A send is logged just before it goes
        // out, so one the kill stopped between its log line and the socket is counted too (conservative):
        // at most one per place under the model's concurrency limit.
        const repaid = ledger.repaidRequests ?? 0;
        expect(repaid).toBeGreaterThanOrEqual(stats.served - planned[name]);
        expect(repaid).toBeGreaterThanOrEqual(stats.received - planned[name]);
        expect(repaid).toBeLessThanOrEqual(stats.received - planned[name] + 4);
        // Each re-paid request is charged at its worst case: max_tokens of completion.
        expect(ledger.flops).toBeCloseTo(
          flopsFor(params[name], ledger.completionTokens + repaid * maxTokens),
          -3,
        );
      }
      const aborted = server.stats.aborted;
      expect(aborted).toBeGreaterThanOrEqual(2);
      expect(
        (result.sampling.wc.ledger.repaidRequests ?? 0) + (result.sampling.se.ledger.repaidRequests ?? 0),
      ).toBeGreaterThanOrEqual(aborted);
      expect(result.verify.wc.samples).toBe(planned.weak);
    } finally {
      await worker.stop();
    }
  });
});
