// Operating a running experiment (pause, raise the budget, resume) and the LLM-judged false-positive
// rate, against the scripted endpoint.
import { describe, expect, it } from 'vitest';
import path from 'node:path';
import { readFile } from 'node:fs/promises';
import { answerScript, FLAWED_REASONING_MARKER, type ModelScript } from './support/scripted-server.js';
import {
  model,
  problemsBlock,
  runExperiment,
  startHeldExperiment,
  testConfig,
  useStudyFixture,
  wcSeModels,
} from './support/harness.js';
import {
  experimentProgressQuery,
  pauseSignal,
  raiseBudgetSignal,
  resumeSignal,
  samplingProgressQuery,
} from '../workflows/messages.js';

process.env.WCSE_TEST_API_KEY = 'sk-test-signals';

/** A judge that calls a solution INVALID exactly when it carries the flawed-reasoning marker. */
const judgeScript: ModelScript = {
  respond: (ctx) => ({
    content: ctx.lastUserMessage.includes(FLAWED_REASONING_MARKER) ? 'Wrong step.\nINVALID' : 'VALID',
  }),
};

describe('operating an experiment and judging its data', () => {
  const questions = 8;
  const fixture = useStudyFixture({
    name: 'signals',
    questions,
    models: (gold) => ({
      weak: answerScript({ gold, correctFraction: 0.5, reasoningWords: 5 }),
      // Every correct SE sample of an odd-numbered question has flawed reasoning.
      strong: answerScript({
        gold,
        correctFraction: 1,
        reasoningWords: 5,
        flawed: (s) => Number(s.question.match(/^Q(\d+):/)?.[1] ?? 0) % 2 === 1,
      }),
      judge: judgeScript,
    }),
  });

  it('pauses between batches, takes a budget raise and resumes to spend it', async () => {
    const { server, client } = fixture;
    const worstRound = 2 * 1e9 * 16 * questions; // one WC sample per question at max_tokens 16
    const budget = 3 * worstRound;
    const config = testConfig({
      problems: problemsBlock(fixture.problemsFile),
      models: wcSeModels(server.baseURL, { wc: 1e9, se: 2e9 }, { sampling: { maxTokens: 16 } }),
      budget: { mode: 'flops', flopsPerSource: budget },
      sampling: { batchSize: 2 },
    });
    const handle = await startHeldExperiment(fixture, config, { name: 'signals', holdAfter: 2 });
    await server.waitForHeld(1, 30_000);
    await handle.signal(pauseSignal);
    await handle.signal(raiseBudgetSignal, { source: 'wc', flops: 2 * worstRound });
    const progress = await handle.query(experimentProgressQuery);
    expect(progress.paused).toBe(true);
    const wcChild = client.workflow.getHandle(progress.samplingWorkflowIds.wc);
    await expect
      .poll(async () => (await wcChild.query(samplingProgressQuery)).paused, { timeout: 10_000 })
      .toBe(true);
    server.release();
    // Paused: in-flight batches finish, no new batch starts.
    await expect
      .poll(async () => (await wcChild.query(samplingProgressQuery)).batchesInFlight, { timeout: 10_000 })
      .toBe(0);
    const servedWhilePaused = server.stats.served;
    await new Promise((resolve) => setTimeout(resolve, 1500));
    expect(server.stats.served).toBe(servedWhilePaused);

    await handle.signal(resumeSignal);
    const result = await handle.result();
    // WC spent past its original budget, within the raised one; SE kept the original.
    expect(result.sampling.wc.ledger.flops).toBeGreaterThan(budget);
    expect(result.sampling.wc.ledger.flops).toBeLessThanOrEqual(budget + 2 * worstRound);
    expect(result.sampling.se.ledger.flops).toBeLessThanOrEqual(budget);
  });

  it('measures the false-positive rate with the judge model over a seeded sample', async () => {
    const { server, client, worker, dir } = fixture;
    const config = testConfig({
      problems: problemsBlock(fixture.problemsFile),
      models: {
        wc: model(server.baseURL, 'weak', 1e9),
        se: model(server.baseURL, 'strong', 2e9),
        judge: model(server.baseURL, 'judge', 70e9),
      },
      budget: { mode: 'ratio', samplesPerQuestion: 2 },
      analysis: { judge: { sampleSize: 100 } },
    });
    const runDir = path.join(dir, 'judge');
    const result = await runExperiment(client, worker.taskQueue, { runDir, config });
    // SE: 16 correct samples, those of the 4 odd questions flawed -> FPR 8/16. WC: never flawed.
    expect(result.fpr.se).toMatchObject({ judged: 16, invalid: 8, fpr: 0.5, unparsed: 0 });
    expect(result.fpr.wc).toMatchObject({ judged: result.verify.wc.correct, invalid: 0, fpr: 0 });
    expect(result.fpr.se!.ci!.low).toBeLessThan(0.5);
    expect(result.fpr.se!.ci!.high).toBeGreaterThan(0.5);
    const metrics = JSON.parse(await readFile(path.join(runDir, 'metrics.json'), 'utf8'));
    expect(metrics.sources.se.fpr.fpr).toBe(0.5);
    const report = await readFile(path.join(runDir, 'report.md'), 'utf8');
    expect(report).toMatch(/50\.0%/);
  });
});
