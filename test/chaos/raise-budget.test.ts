// Chaos: `raise-budget` that could not take effect (a ratio run, the wrong unit, no amount, an infinite
// amount, a bogus source) is refused with the reason by the workflow's update validator, never "Raised".
import { describe, expect, it } from 'vitest';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { WorkflowUpdateFailedError, type WorkflowHandle } from '@temporalio/client';
import {
  problemsBlock,
  startHeldExperiment,
  testConfig,
  useStudyFixture,
  wcSeModels,
} from '../support/harness.js';
import {
  raiseBudgetUpdate,
  samplingProgressQuery,
  experimentProgressQuery,
  type RaiseBudget,
} from '../../workflows/messages.js';
import { cancelExperiment } from '../../cli/control.js';

process.env.WCSE_TEST_API_KEY = 'sk-test-raise';

async function refusal(handle: WorkflowHandle, raise: unknown): Promise<string> {
  const error = await handle.executeUpdate(raiseBudgetUpdate, { args: [raise as RaiseBudget] }).then(
    () => null,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(WorkflowUpdateFailedError);
  return (error as WorkflowUpdateFailedError).cause?.message ?? '';
}

describe('raise-budget refuses what it cannot do', () => {
  const fixture = useStudyFixture({ name: 'raise', questions: 4 });

  async function startHeld(budget: Record<string, unknown>, raiseAtStart?: RaiseBudget) {
    const { server } = fixture;
    const config = testConfig({
      problems: problemsBlock(fixture.problemsFile),
      models: wcSeModels(server.baseURL, { wc: 1e9, se: 2e9 }, { sampling: { maxTokens: 16 } }),
      budget,
      sampling: { batchSize: 2 },
      temporal: { heartbeatTimeoutSeconds: 3 },
    });
    const handle = await startHeldExperiment(fixture, config, { name: 'raise', holdAfter: 0 });
    // Before the sampling children exist (the prepare stage): kept and passed on once both have started.
    if (raiseAtStart) await handle.executeUpdate(raiseBudgetUpdate, { args: [raiseAtStart] });
    await server.waitForHeld(1, 30_000);
    return handle;
  }

  async function stop(handle: WorkflowHandle) {
    const outcome = await cancelExperiment(fixture.client, handle.workflowId, { waitMs: 60_000 });
    fixture.server.release();
    expect(outcome.closed).toBe(true);
  }

  it('refuses any raise of a ratio run', async () => {
    const handle = await startHeld({ mode: 'ratio', samplesPerQuestion: 2 });
    try {
      expect(await refusal(handle, { flops: 1e18 })).toMatch(/ratio mode/);
      expect(await refusal(handle, { usd: 5 })).toMatch(/ratio mode/);
    } finally {
      await stop(handle);
    }
  });

  it('refuses the wrong unit, no amount, a non-finite amount and a bogus source; takes a valid raise', async () => {
    const handle = await startHeld({ mode: 'flops', flopsPerSource: 1e15 });
    try {
      expect(await refusal(handle, {})).toMatch(/nothing to raise: give flops/);
      expect(await refusal(handle, { usd: 5 })).toMatch(/flops mode: raise it with flops, not usd/);
      expect(await refusal(handle, { flops: Number.POSITIVE_INFINITY })).toMatch(
        /flops must be a positive, finite number/,
      );
      expect(await refusal(handle, { flops: -1 })).toMatch(/flops must be a positive, finite number/);
      expect(await refusal(handle, { source: 'bogus', flops: 1 })).toMatch(/source must be one of wc, se/);

      const { samplingWorkflowIds } = await handle.query(experimentProgressQuery);
      const wc = fixture.client.workflow.getHandle(samplingWorkflowIds.wc);
      const before = (await wc.query(samplingProgressQuery)).budget.flops!;
      await handle.executeUpdate(raiseBudgetUpdate, { args: [{ source: 'wc', flops: 1e15 }] });
      await expect
        .poll(async () => (await wc.query(samplingProgressQuery)).budget.flops, { timeout: 10_000 })
        .toBe(before + 1e15);
    } finally {
      await stop(handle);
    }
  });

  it('passes on a raise that arrived before the sampling children started', async () => {
    const handle = await startHeld({ mode: 'flops', flopsPerSource: 1e15 }, { flops: 3e15 });
    try {
      const { samplingWorkflowIds } = await handle.query(experimentProgressQuery);
      for (const id of Object.values(samplingWorkflowIds)) {
        const child = fixture.client.workflow.getHandle(id);
        await expect
          .poll(async () => (await child.query(samplingProgressQuery)).budget.flops, { timeout: 10_000 })
          .toBe(4e15);
      }
      // It came through the path for early messages (the patch marker is in the experiment's history).
      const { events } = await handle.fetchHistory();
      const markers = (events ?? []).flatMap((event) => {
        const data = event.markerRecordedEventAttributes?.details?.['patch-data']?.payloads?.[0]?.data;
        return data ? [Buffer.from(data).toString()] : [];
      });
      expect(markers.some((marker) => marker.includes('forward-early-messages'))).toBe(true);
    } finally {
      await stop(handle);
    }
  });

  it('the command refuses no amount, an infinite one and a bogus source before sending anything', async () => {
    const wcse = (args: string[]) =>
      promisify(execFile)(process.execPath, ['bin/wcse.js', 'raise-budget', 'exp-x', ...args], {
        // Nowhere to connect: each refusal must come before any connection is tried.
        env: { ...process.env, TEMPORAL_ADDRESS: '127.0.0.1:1' },
        timeout: 60_000,
      }).then(
        () => ({ code: 0, stderr: '' }),
        (error: { code: number; stderr: string }) => ({ code: error.code, stderr: error.stderr }),
      );
    const none = await wcse([]);
    expect(none.code).toBe(2);
    expect(none.stderr).toMatch(/give --flops \(flops mode\) or --usd \(price mode\)/);
    const infinite = await wcse(['--flops', '1e400']);
    expect(infinite.code).not.toBe(0);
    expect(infinite.stderr).toMatch(/--flops.*positive, finite number/);
    const bogus = await wcse(['--source', 'bogus', '--flops', '1e18']);
    expect(bogus.code).not.toBe(0);
    expect(bogus.stderr).toMatch(/--source.*bogus.*(wc|choices)/s);
  });
});
