// The warm-up stage (issue 11): with `warmup`, WC and SE are each finetuned on the warm-up problems' reference
// solutions before sampling, with the same steps and batch size, and the warmed-up models are WC and SE from
// then on: they are sampled, they are the bases the WC-LM and SE-LM setups finetune, and the plan and report
// say so. Warm-up questions that are also study questions are refused before anything is trained.
import { readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FailureType } from '../core/failures.js';
import {
  answerScript,
  goldTable,
  startScriptedServer,
  type ScriptedServer,
} from './support/scripted-server.js';
import {
  model,
  problemsBlock,
  rootCauseMessage,
  rootFailureType,
  runExperiment,
  tempDir,
  testConfig,
  useTemporal,
  writeProblems,
  writeTimesTable,
} from './support/harness.js';

process.env.WCSE_TEST_API_KEY = 'sk-test-warmup';

const WARMUP_PROBLEMS = 6;

describe('the warm-up stage: WC and SE are warmed up before sampling and stay warmed up', () => {
  const temporal = useTemporal('warmup');
  let server: ScriptedServer;
  let dir: string;
  const files = { train: '', test: '', warmup: '', leaky: '' };

  beforeAll(async () => {
    dir = await tempDir('warmup');
    const train = await writeProblems(dir, 4);
    const test = await writeTimesTable(dir, {
      name: 'test',
      prefix: 'T',
      factor: 3,
      count: 4,
      id: (i) => `t${i}`,
    });
    const rows = Array.from({ length: WARMUP_PROBLEMS }, (_, k) => ({
      id: `w${k + 1}`,
      question: `W${k + 1}: what is ${k + 1} times 5?`,
      answer: `${k + 1} times 5 is <<${k + 1}*5=${5 * (k + 1)}>>${5 * (k + 1)}.\n#### ${5 * (k + 1)}`,
    }));
    files.warmup = path.join(dir, 'warmup.jsonl');
    await writeFile(files.warmup, rows.map((row) => JSON.stringify(row)).join('\n') + '\n');
    // A warm-up file holding one of the test questions.
    files.leaky = path.join(dir, 'leaky.jsonl');
    const leaked = { id: 'x', question: 'T2: what is 2 times 3?', answer: 'So 6.\n#### 6' };
    await writeFile(files.leaky, [...rows, leaked].map((row) => JSON.stringify(row)).join('\n') + '\n');
    const gold = goldTable(Object.fromEntries([...train.gold, ...test.gold]));
    server = await startScriptedServer({
      models: {
        weak: answerScript({ gold, correctFraction: 0.5 }),
        strong: answerScript({ gold, correctFraction: 1 }),
      },
      fineTuning: { stepsToFinish: 2 },
      recordRequests: true,
    });
    files.train = train.file;
    files.test = test.file;
  });
  afterAll(async () => {
    await server?.close();
  });

  const config = (warmupFile: string) =>
    testConfig({
      problems: problemsBlock(files.train),
      models: { wc: model(server.baseURL, 'weak', 1e9), se: model(server.baseURL, 'strong', 2e9) },
      budget: { mode: 'ratio', samplesPerQuestion: 1 },
      warmup: {
        problems: { path: warmupFile, kind: 'gsm8k', fields: { id: 'id' } },
        steps: 3,
        batchSize: 2,
        hyperparameters: { learningRate: 0.003 },
        pollIntervalSeconds: 1,
      },
      finetune: {
        setups: { student: false, wc: true, se: true },
        steps: 2,
        batchSize: 2,
        pollIntervalSeconds: 1,
      },
      evaluation: { problems: problemsBlock(files.test) },
      temporal: { heartbeatTimeoutSeconds: 3 },
    });

  it('trains both models on the reference solutions, then samples and finetunes the warmed-up models', async () => {
    const jobsBefore = server.jobs().length;
    const requestsBefore = server.stats.requests.length;
    const runDir = path.join(dir, 'run');
    const experimentId = `warmup-${Date.now()}`;
    const result = await runExperiment(temporal.client, temporal.worker.taskQueue, {
      experimentId,
      runDir,
      config: config(files.warmup),
    });

    const jobs = server.jobs().slice(jobsBefore);
    const warmups = jobs.filter((job) => job.user_provided_suffix === 'warmup');
    expect(warmups.map((job) => job.model).sort()).toEqual(['strong', 'weak']);
    for (const job of warmups) {
      expect(job.hyperparameters).toMatchObject({ n_steps: 3, batch_size: 2 });
      // One chat example per warm-up problem, in the evaluation prompt's format ending "The answer is N.".
      const lines = server.fileContent(job.training_file)!.trim().split('\n');
      expect(lines).toHaveLength(WARMUP_PROBLEMS);
      const first = JSON.parse(lines[0]) as { messages: Array<{ role: string; content: string }> };
      expect(first.messages.at(-1)).toEqual({
        role: 'assistant',
        content: '1 times 5 is 5. The answer is 5.',
      });
    }
    const warmed = { wc: result.warmup!.jobs.wc.fineTunedModel, se: result.warmup!.jobs.se.fineTunedModel };
    expect(warmed.wc).toMatch(/^ft:weak:warmup:/);
    expect(warmed.se).toMatch(/^ft:strong:warmup:/);
    expect(result.warmup!.examples).toBe(WARMUP_PROBLEMS);

    // Sampling asked the warmed-up models only; the setups finetuned them, not the base models.
    const sampled = new Set(
      server.stats.requests
        .slice(requestsBefore)
        .filter((request) => request.lastUserMessage.startsWith('Q'))
        .map((request) => request.model),
    );
    expect(sampled).toEqual(new Set([warmed.wc, warmed.se]));
    const setupJobs = jobs.filter((job) => job.user_provided_suffix !== 'warmup');
    expect(setupJobs.length).toBe(4);
    expect(new Set(setupJobs.map((job) => job.model))).toEqual(new Set([warmed.wc, warmed.se]));
    expect(result.setups.map((setup) => setup.baseModel).sort()).toEqual([warmed.se, warmed.wc].sort());

    expect(result.plan.notes.join('\n')).toContain('Warm-up: WC (weak) and SE (strong)');
    expect(result.report?.reportMd).toBeDefined();
    const md = await readFile(path.join(runDir, 'report.md'), 'utf8');
    expect(md).toContain('WC and SE are warmed-up models');
    expect(md).toContain(warmed.wc);

    // Run again on the same directory: nothing is trained twice.
    const again = await runExperiment(temporal.client, temporal.worker.taskQueue, {
      experimentId,
      runDir,
      config: config(files.warmup),
    });
    expect(again.warmup!.jobs.wc.jobId).toBe(result.warmup!.jobs.wc.jobId);
    expect(server.jobs().length).toBe(jobsBefore + jobs.length);
  });

  it('refuses warm-up questions that are also study questions before training anything', async () => {
    const jobsBefore = server.jobs().length;
    const failure = await runExperiment(temporal.client, temporal.worker.taskQueue, {
      runDir: path.join(dir, 'leaky'),
      config: config(files.leaky),
    }).catch((error: unknown) => error);
    expect(rootFailureType(failure)).toBe(FailureType.TestSetLeak);
    expect(rootCauseMessage(failure)).toMatch(/warm-up question/);
    expect(server.jobs().length).toBe(jobsBefore);
  });
});
