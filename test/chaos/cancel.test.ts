// Chaos: `wcse cancel` on a long run whose sampling children have continued as new (the test dev server
// suggests continue-as-new at 200 events). Requests must stop within one batch of the cancel, and the
// command must return only once every run of the experiment is closed.
import { describe, expect, it } from 'vitest';
import path from 'node:path';
import { WorkflowFailedError } from '@temporalio/client';
import { answerScript, goldTable, startScriptedServer } from '../support/scripted-server.js';
import {
  model,
  problemsBlock,
  tempDir,
  testConfig,
  uniqueId,
  useTemporal,
  writeProblems,
} from '../support/harness.js';
import { experimentWorkflow } from '../../workflows/experiment.js';
import { experimentProgressQuery } from '../../workflows/messages.js';
import { cancelExperiment } from '../../cli/control.js';

process.env.WCSE_TEST_API_KEY = 'sk-test-cancel';

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe('cancel after continue-as-new', () => {
  const temporal = useTemporal('cancel');

  it.each([
    // The workflows alone must pass the cancel on: the command's own fallback stays out of it.
    { how: 'by the workflows', graceMs: 60_000 },
    // The command's fallback for runs from before the workflows did: it cancels the children's latest runs.
    { how: 'by the command', graceMs: 0 },
  ])(
    'stops every request within one batch and returns once the runs are closed ($how)',
    async ({ graceMs }) => {
      const { client, worker } = temporal;
      const dir = await tempDir('cancel');
      const questions = 6;
      const problems = await writeProblems(dir, questions);
      const gold = goldTable(Object.fromEntries(problems.gold));
      const server = await startScriptedServer({
        recordRequests: true,
        models: {
          weak: { ...answerScript({ gold, correctFraction: 0.5 }), latencyMs: 100 },
          strong: { ...answerScript({ gold, correctFraction: 1, variants: 1 }), latencyMs: 100 },
        },
      });
      try {
        const batchSize = 2;
        const concurrency = 1;
        const config = testConfig({
          problems: problemsBlock(problems.file),
          models: {
            wc: model(server.baseURL, 'weak', 1e9, { concurrency, sampling: { maxTokens: 16 } }),
            se: model(server.baseURL, 'strong', 2e9, { concurrency, sampling: { maxTokens: 16 } }),
          },
          // A budget no run of this test can spend: sampling goes on until cancelled.
          budget: { mode: 'flops', flopsPerSource: 1e30 },
          sampling: { batchSize },
          // Cancellation reaches a running batch at its next heartbeat.
          temporal: { heartbeatTimeoutSeconds: 3 },
        });
        const workflowId = uniqueId('exp-cancel');
        const handle = await client.workflow.start(experimentWorkflow, {
          taskQueue: worker.taskQueue,
          workflowId,
          args: [{ experimentId: workflowId, runDir: path.join(dir, 'run'), config }],
        });

        // Wait until both sampling children run in a later run than their first (they continued as new).
        const { samplingWorkflowIds } = await handle.query(experimentProgressQuery);
        const children = Object.values(samplingWorkflowIds).map((id) => client.workflow.getHandle(id));
        const firstRuns = new Map<string, string>();
        await expect
          .poll(
            async () => {
              let continued = 0;
              for (const child of children) {
                const description = await child.describe().catch(() => null);
                if (!description) continue;
                if (!firstRuns.has(child.workflowId)) firstRuns.set(child.workflowId, description.runId);
                if (description.runId !== firstRuns.get(child.workflowId)) continued++;
              }
              return continued;
            },
            { timeout: 60_000, interval: 200 },
          )
          .toBe(children.length);
        expect(server.stats.served).toBeGreaterThan(0);

        const cancelledAt = Date.now();
        const outcome = await cancelExperiment(client, workflowId, {
          waitMs: 60_000,
          graceMs,
        });
        const returnedAt = Date.now();
        expect(outcome.closed).toBe(true);

        // Every run of the experiment is closed, the current sampling runs as cancelled.
        await expect(handle.result()).rejects.toBeInstanceOf(WorkflowFailedError);
        // Cancelled by the workflows; with the children cancelled directly the parent may fail on their cancel.
        expect(['CANCELLED', 'FAILED']).toContain((await handle.describe()).status.name);
        if (graceMs > 0) expect((await handle.describe()).status.name).toBe('CANCELLED');
        for (const child of children) {
          expect((await child.describe()).status.name).toBe('CANCELLED');
        }

        // Within one batch: when the cancel lands a source has at most `window` batches in flight, and at
        // most one more starts before its sampling run sees the cancel (a batch lasts 2 x 100 ms here, far
        // longer than passing a cancel on). A batch asks batchSize x samplesPerRound (1) requests at most.
        const window = Math.max(2, Math.ceil((2 * concurrency) / batchSize) + 1);
        for (const name of ['weak', 'strong']) {
          const after = server.stats.requests.filter((r) => r.model === name && r.receivedAt >= cancelledAt);
          expect(after.length, name).toBeLessThanOrEqual((window + 1) * batchSize);
        }

        // Nothing is requested once the command has returned.
        await sleep(2_000);
        expect(server.stats.requests.filter((r) => r.receivedAt > returnedAt)).toEqual([]);
        expect(server.stats.inFlight).toBe(0);
      } finally {
        await server.close();
      }
    },
  );
});
