// Matched training (issue 9): every data source of a setup trains the same optimizer steps at the same batch
// size, whatever its dataset size; a service that takes only epochs gets the closest epochs and the mismatch
// is reported; each finetuned cell carries a training ledger (steps, examples seen, tokens, FLOPs).
import { MockActivityEnvironment } from '@temporalio/testing';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runFinetuneJob, type FinetuneJobInput } from '../activities/finetune/job.js';
import { openStore } from '../activities/store.js';
import type { Source } from '../core/config.js';
import type { FinetuneResult } from '../core/results.js';
import { buildReportDocument } from '../core/report/model.js';
import { trainingMarkdown } from '../core/report/training.js';
import { markdownTable } from '../core/report/markdown.js';
import { selectBest, spacedCheckpoints, type ValidationScore } from '../core/selection.js';
import { jobTraining, trainingRequest, trainingSection } from '../core/training.js';
import {
  startScriptedServer,
  answerScript,
  goldTable,
  type ScriptedServer,
} from './support/scripted-server.js';
import { tempDir, testConfig, model } from './support/harness.js';

process.env.WCSE_TEST_API_KEY = 'sk-test-training';

/** `count` chat examples of `words` words each, as a training JSONL file. */
function dataset(count: number, answer: string): string {
  return Array.from({ length: count }, (_, i) =>
    JSON.stringify({
      messages: [
        { role: 'user', content: `Q${i}: what is ${i} + ${i}?` },
        { role: 'assistant', content: `${answer} ${2 * i}` },
      ],
    }),
  )
    .map((line) => line + '\n')
    .join('');
}

describe('training request and job training (pure)', () => {
  const finetune = (raw: Record<string, unknown>) =>
    testConfig({
      problems: { path: 'p.jsonl', kind: 'generic' },
      models: {
        wc: model('http://x/v1', 'w', 1e9),
        se: model('http://x/v1', 's', 2e9),
        student: model('http://x/v1', 'st', 5e8),
      },
      budget: { mode: 'ratio', samplesPerQuestion: 1 },
      finetune: raw,
      evaluation: { problems: { path: 't.jsonl', kind: 'generic' } },
    }).finetune!;

  it('defaults to matched steps; epochs only when asked, and flagged', () => {
    expect(trainingRequest(finetune({}))).toEqual({ mode: 'steps', steps: 100, batchSize: 8 });
    expect(trainingRequest(finetune({ steps: 40, batchSize: 16 }))).toEqual({
      mode: 'steps',
      steps: 40,
      batchSize: 16,
    });
    expect(trainingRequest(finetune({ hyperparameters: { epochs: 2 } }))).toEqual({
      mode: 'epochs',
      epochs: 2,
      batchSize: null,
    });
    const epochs = jobTraining({ mode: 'epochs', epochs: 2, batchSize: 4 }, 100, true);
    expect(epochs.mismatch).toMatch(/not matched/);
    expect(() => finetune({ steps: 10, hyperparameters: { epochs: 2 } })).toThrow(
      /finetune.steps and finetune.hyperparameters.epochs/,
    );
    expect(() => finetune({ batchSize: 8, hyperparameters: { batchSize: 4 } })).toThrow(/differ/);
  });

  it('on an epochs-only service picks the epochs closest to steps x batch size / examples', () => {
    const request = { mode: 'steps', steps: 100, batchSize: 8 } as const;
    // 800 examples wanted: 300 examples -> 3 epochs (900), 250 -> 3 (750), 1000 -> 1, 2000 -> 1 (at least one).
    expect(jobTraining(request, 300, false)).toMatchObject({ steps: null, epochs: 3, batchSize: 8 });
    expect(jobTraining(request, 250, false).epochs).toBe(3);
    expect(jobTraining(request, 1000, false).epochs).toBe(1);
    expect(jobTraining(request, 2000, false).epochs).toBe(1);
    expect(jobTraining(request, 300, false).mismatch).toMatch(
      /900 examples seen, against 100 steps x 8 = 800/,
    );
    expect(jobTraining(request, 400, false).mismatch).toBeNull(); // 2 epochs of 400 = 800 exactly
    expect(jobTraining(request, 400, true)).toEqual({
      steps: 100,
      epochs: null,
      batchSize: 8,
      mismatch: null,
    });
  });

  it('the training section: examples seen, tokens per example seen, FLOPs = 6 N D', () => {
    const request = { mode: 'steps', steps: 10, batchSize: 4 } as const;
    const sent = jobTraining(request, 20, true);
    /** The section for 20 examples of 1000 tokens in all, at 1e9 params, with what the service reported. */
    const sectionFor = (serviceSteps: number | null, serviceTokens: number | null) =>
      trainingSection(request, sent, {
        examples: 20,
        datasetTokens: 1000,
        params: 1e9,
        serviceSteps,
        serviceTokens,
      });
    const section = sectionFor(null, null);
    expect(section).toMatchObject({ steps: 10, examplesSeen: 40, tokens: 2000, tokensSource: 'chars/4' });
    expect(section.flops).toBe(6 * 1e9 * 2000);
    expect(section.matched).toBe(true);
    const reported = sectionFor(10, 1234);
    expect(reported).toMatchObject({ tokens: 1234, tokensSource: 'service', stepsSource: 'service' });
    expect(reported.matched).toBe(true);
    // A service that ignored n_steps and trained its own number of steps: unmatched, and said why.
    const ignored = sectionFor(15, null);
    expect(ignored).toMatchObject({ steps: 15, matched: false });
    expect(ignored.mismatch).toMatch(/trained 15 steps, not the 10 requested/);
  });
});

describe('model selection rules (pure)', () => {
  const score = (gridPoint: number, step: number, correct: number): ValidationScore => ({
    gridPoint,
    learningRate: [1e-6, 1e-5][gridPoint],
    step,
    model: `m-${gridPoint}-${step}`,
    jobId: `job-${gridPoint}`,
    n: 10,
    correct,
    accuracy: correct / 10,
  });

  it('selects the highest validation accuracy; ties go to the earlier learning rate, then the earlier step', () => {
    expect(selectBest([score(0, 2, 3), score(1, 2, 5), score(0, 4, 4)])).toMatchObject({
      gridPoint: 1,
      step: 2,
    });
    expect(selectBest([score(1, 4, 5), score(1, 2, 5), score(0, 6, 5)])).toMatchObject({
      gridPoint: 0,
      step: 6,
    });
    expect(selectBest([score(0, 6, 5), score(0, 2, 5)])).toMatchObject({ step: 2 });
    expect(() => selectBest([])).toThrow(/no checkpoint/);
  });

  it('spaces the scored checkpoints evenly over those a job left, keeping the last', () => {
    const left = [1, 2, 3, 4, 5, 6, 7, 8, 9, 10].map((step) => ({ step, model: `c${step}` }));
    expect(spacedCheckpoints(left, 3).map((c) => c.step)).toEqual([3, 7, 10]);
    expect(spacedCheckpoints(left.slice(0, 2), 3).map((c) => c.step)).toEqual([1, 2]);
    expect(spacedCheckpoints([...left].reverse(), 1).map((c) => c.step)).toEqual([10]);
  });

  it('a grid without validation problems is refused at config time', () => {
    const raw = (finetune: Record<string, unknown>) => () =>
      testConfig({
        problems: { path: 'p.jsonl', kind: 'generic' },
        models: { wc: model('http://x/v1', 'w', 1e9), se: model('http://x/v1', 's', 2e9) },
        budget: { mode: 'ratio', samplesPerQuestion: 1 },
        finetune: { setups: { student: false }, ...finetune },
        evaluation: { problems: { path: 't.jsonl', kind: 'generic' } },
      });
    expect(raw({ learningRates: [1e-6, 1e-5] })).toThrow(
      /finetune.validation: choosing among learning rates/,
    );
    expect(raw({ checkpoints: 3 })).toThrow(/finetune.validation/);
    expect(raw({ learningRates: [1e-6], checkpoints: 1 })).not.toThrow();
    const validation = { path: 'v.jsonl', kind: 'generic' };
    expect(raw({ learningRates: [1e-6, 1e-5], checkpoints: 3, validation })).not.toThrow();
    expect(raw({ learningRates: [1e-6, 1e-5], validation, hyperparameters: { learningRate: 1e-5 } })).toThrow(
      /learningRates and finetune.hyperparameters.learningRate/,
    );
  });
});

describe('matched training against the scripted fine-tuning service', () => {
  let server: ScriptedServer;
  let runDir: string;
  const SIZES: Record<Source, number> = { wc: 30, se: 12 };

  beforeAll(async () => {
    server = await startScriptedServer({
      models: { base: answerScript({ gold: goldTable({}) }) },
      fineTuning: { stepsToFinish: 2 },
    });
    runDir = await tempDir('training');
    const store = openStore(runDir);
    for (const source of ['wc', 'se'] as const) {
      await store.write(`datasets/${source}/train.jsonl`, dataset(SIZES[source], `The sum is`));
    }
  });
  afterAll(async () => {
    await server?.close();
  });

  const input = (
    data: Source,
    supportsSteps: boolean,
    setup: 'student' | 'wc' = 'student',
  ): FinetuneJobInput => ({
    runDir: path.join(runDir),
    experimentId: `training-${supportsSteps}`,
    setup,
    data,
    backend: 'openai',
    service: { baseURL: server.baseURL, apiKeyEnv: 'WCSE_TEST_API_KEY', requestTimeoutSeconds: 10 },
    baseModel: 'base',
    trainKey: `datasets/${data}/train.jsonl`,
    validationKey: null,
    hyperparameters: {},
    training: { mode: 'steps', steps: 7, batchSize: 4 },
    supportsSteps,
    params: 1e9,
    suffix: `t-${setup}-${data}`,
    pollIntervalSeconds: 0.05,
  });

  it('both sources train the same steps and batch size although WC has 2.5x the examples', async () => {
    const results: FinetuneResult[] = [];
    for (const data of ['wc', 'se'] as const) {
      results.push(await new MockActivityEnvironment().run(runFinetuneJob, input(data, true)));
    }
    const jobs = server.jobs().filter((job) => job.user_provided_suffix?.startsWith('t-student-'));
    expect(jobs.map((job) => [job.hyperparameters.n_steps, job.hyperparameters.batch_size])).toEqual([
      [7, 4],
      [7, 4],
    ]);
    const [wc, se] = results.map((result) => result.training!);
    // The steps are the service's own (its events), not a copy of the request.
    expect(wc).toMatchObject({ steps: 7, stepsSource: 'service', examplesSeen: 28, matched: true });
    expect(se).toMatchObject({ steps: 7, stepsSource: 'service', examplesSeen: 28, matched: true });
    expect([wc.examples, se.examples]).toEqual([30, 12]);
    expect(wc.tokensSource).toBe('service');
    expect(wc.flops).toBe(6 * 1e9 * wc.tokens);
    // Same examples seen from examples of about the same length: about the same tokens.
    expect(Math.abs(wc.tokens - se.tokens) / se.tokens).toBeLessThan(0.15);

    const doc = buildReportDocument({
      experimentId: 'training',
      generatedAt: '2026-01-01T00:00:00Z',
      plan: null,
      metrics: null,
      datasets: {},
      sampling: {},
      setups: [
        {
          setup: 'student',
          trainedRole: 'student',
          baseModel: 'base',
          base: null,
          runs: Object.fromEntries(
            results.map((finetune) => [
              finetune.data,
              {
                finetune,
                evaluation: {
                  accuracy: 0.5,
                  ci: { low: 0.2, high: 0.8 },
                  n: 10,
                  correct: 5,
                  model: finetune.fineTunedModel,
                },
              },
            ]),
          ),
          skipped: {},
        },
      ],
    } as unknown as Parameters<typeof buildReportDocument>[0]);
    expect(doc.finetune.map((e) => e.training?.steps)).toEqual([7, 7]);
    expect(doc.notes.filter((n) => /unmatched|different steps/.test(n))).toEqual([]);
    const md = trainingMarkdown(
      doc.finetune.map((e) => ({
        setupName: e.setupName,
        dataName: e.data.toUpperCase(),
        training: e.training,
      })),
      markdownTable,
    );
    expect(md).toMatch(/Student-LM on WC \| 7 \| 4 \|/);
  });

  it('an epochs-only service gets the closest epochs per dataset, and the report says they are unmatched', async () => {
    const results: FinetuneResult[] = [];
    for (const data of ['wc', 'se'] as const) {
      results.push(await new MockActivityEnvironment().run(runFinetuneJob, input(data, false, 'wc')));
    }
    const jobs = server.jobs().filter((job) => job.user_provided_suffix?.startsWith('t-wc-'));
    // 7 x 4 = 28 examples wanted: WC (30) -> 1 epoch, SE (12) -> 2 epochs; no n_steps sent.
    expect(jobs.map((job) => [job.hyperparameters.n_epochs, job.hyperparameters.n_steps])).toEqual([
      [1, undefined],
      [2, undefined],
    ]);
    const [wc, se] = results.map((result) => result.training!);
    expect(wc).toMatchObject({ epochs: 1, matched: false, examplesSeen: 30 });
    expect(se).toMatchObject({ epochs: 2, matched: false, examplesSeen: 24 });
    expect(wc.mismatch).toMatch(/takes epochs only.*30 examples seen, against 7 steps x 4 = 28/);
  });
});
