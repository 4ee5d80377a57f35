// Model selection (issue 9) against the scripted fine-tuning service: a grid of 2 learning rates x 3
// checkpoints per data source, every checkpoint scored on held-out validation questions, and the checkpoint
// the scripted validation scores make best is the one evaluated on the test set and named by the report.
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  answerScript,
  goldTable,
  startScriptedServer,
  type ScriptedServer,
} from './support/scripted-server.js';
import type { ChildProcess } from 'node:child_process';
import {
  model,
  problemsBlock,
  runExperiment,
  startWorker,
  startWorkerProcess,
  tempDir,
  testConfig,
  uniqueId,
  useTemporal,
  writeProblems,
  writeTimesTable,
} from './support/harness.js';
import { openStore, readJson } from '../activities/store.js';
import { selectionKeys } from '../core/layout.js';
import type { ValidationScore } from '../core/selection.js';
import { experimentWorkflow } from '../workflows/experiment.js';

process.env.WCSE_TEST_API_KEY = 'sk-test-selection';

const LEARNING_RATES = [1e-5, 3e-5];
/** Validation questions (of 8) each checkpoint answers, by learning rate and step: the best is 3e-5 at step 4. */
const VALIDATION: Record<number, Record<number, number>> = {
  [1e-5]: { 2: 2, 4: 3, 6: 5 },
  [3e-5]: { 2: 1, 4: 7, 6: 4 },
};
/** Test questions (of 8) each checkpoint answers: different from validation, so the test shows which one ran. */
const TEST: Record<number, Record<number, number>> = {
  [1e-5]: { 2: 1, 4: 1, 6: 8 },
  [3e-5]: { 2: 1, 4: 6, 6: 2 },
};

function writeSet(dir: string, name: string, prefix: string, count: number) {
  return writeTimesTable(dir, { name, prefix, factor: 5, count, id: (i) => `${prefix.toLowerCase()}${i}` });
}

describe('model selection: learning-rate grid x checkpoints, chosen on validation, evaluated on test', () => {
  const temporal = useTemporal('selection');
  let server: ScriptedServer;
  let dir: string;

  beforeAll(async () => {
    dir = await tempDir('selection');
    const train = await writeProblems(dir, 6);
    const validation = await writeSet(dir, 'validation', 'V', 8);
    const test = await writeSet(dir, 'test', 'T', 8);
    const gold = goldTable(Object.fromEntries([...train.gold, ...validation.gold, ...test.gold]));
    // V<i> / T<i> is answered correctly iff i <= the count; training questions by every other sample.
    const script = (valid: number, tested: number) =>
      answerScript({
        gold,
        correct: (s) => {
          const v = s.question.match(/^V(\d+):/);
          if (v) return Number(v[1]) <= valid;
          const t = s.question.match(/^T(\d+):/);
          if (t) return Number(t[1]) <= tested;
          return s.k % 2 === 0;
        },
      });
    server = await startScriptedServer({
      models: { student: script(0, 0), weak: script(0, 0), strong: script(0, 0) },
      recordRequests: true,
      fineTuning: {
        stepsToFinish: 2,
        checkpointModelFor: (job, step) => {
          const rate = job.hyperparameters.learning_rate!;
          return script(VALIDATION[rate][step], TEST[rate][step]);
        },
      },
    });
    Object.assign(paths, { train: train.file, validation: validation.file, test: test.file });
  });
  afterAll(async () => {
    await server?.close();
  });
  const paths = { train: '', validation: '', test: '' };

  const selectionConfig = () =>
    testConfig({
      problems: problemsBlock(paths.train),
      models: {
        wc: model(server.baseURL, 'weak', 1e9),
        se: model(server.baseURL, 'strong', 2e9),
        student: model(server.baseURL, 'student', 0.5e9),
      },
      budget: { mode: 'ratio', samplesPerQuestion: 2 },
      finetune: {
        setups: { student: true, wc: false, se: false },
        steps: 6,
        batchSize: 2,
        learningRates: LEARNING_RATES,
        checkpoints: 3,
        validation: problemsBlock(paths.validation),
        pollIntervalSeconds: 1,
      },
      evaluation: { problems: problemsBlock(paths.test) },
      temporal: { heartbeatTimeoutSeconds: 3 },
    });

  it('trains one job per learning rate, scores 3 checkpoints each on validation, tests only the best', async () => {
    const config = selectionConfig();
    const runDir = path.join(dir, 'run');
    const result = await runExperiment(temporal.client, temporal.worker.taskQueue, { runDir, config });

    // 2 data sources x 2 learning rates, each job asked for 6 steps and 3 checkpoints.
    const jobs = server.jobs();
    expect(jobs).toHaveLength(4); // the first test: the server's only jobs
    expect(jobs.map((job) => job.hyperparameters.learning_rate).sort()).toEqual([1e-5, 1e-5, 3e-5, 3e-5]);
    expect(
      jobs.every((job) => job.hyperparameters.n_steps === 6 && job.hyperparameters.n_checkpoints === 3),
    ).toBe(true);

    const student = result.setups.find((setup) => setup.setup === 'student')!;
    for (const data of ['wc', 'se'] as const) {
      const run = student.runs[data]!;
      const selection = run.finetune.selection!;
      // The whole grid was scored: 2 rates x steps 2, 4, 6, with the scripted validation accuracies.
      expect(selection.grid.map((s) => [s.learningRate, s.step, s.correct])).toEqual([
        [1e-5, 2, 2],
        [1e-5, 4, 3],
        [1e-5, 6, 5],
        [3e-5, 2, 1],
        [3e-5, 4, 7],
        [3e-5, 6, 4],
      ]);
      expect(selection.grid.every((s) => s.n === 8)).toBe(true);
      expect(selection.selected).toMatchObject({ learningRate: 3e-5, step: 4, accuracy: 7 / 8 });
      expect(run.finetune.fineTunedModel).toMatch(/:ckpt-step-4$/);
      // The test set saw the selected checkpoint only: its scripted test accuracy, not the final model's.
      expect(run.evaluation.model).toBe(run.finetune.fineTunedModel);
      expect(run.evaluation.accuracy).toBeCloseTo(TEST[3e-5][4] / 8, 10);
    }
    // Validation questions were never sent to a model as test questions, nor test questions as validation.
    const report = JSON.parse(await readFile(path.join(runDir, 'report.json'), 'utf8'));
    const cell = report.finetune.find((e: { data: string }) => e.data === 'wc');
    expect(cell.selection.selected).toMatchObject({ learningRate: 3e-5, step: 4 });
    const md = await readFile(path.join(runDir, 'report.md'), 'utf8');
    expect(md).toMatch(/Model selection/);
    expect(md).toMatch(/Student-LM on WC.*3e-5.*step 4/);
  });

  it('a worker killed mid-grid: the resumed grid re-runs no finished job and no finished validation', async () => {
    const taskQueue = uniqueId('tq-selection-kill');
    const runDir = path.join(dir, 'killed');
    const jobsBefore = server.jobs().length;
    // Validation requests a checkpoint received (the selected one also answers the test set afterwards).
    const servedOf = (model: string) =>
      server.stats.requests.filter((r) => r.model === model && /^V\d+:/.test(r.lastUserMessage)).length;
    // Only the first checkpoint to ask is validated before the kill: every other validation request is held, so
    // the kill always lands mid-grid (without this, all 12 could finish between two polls of the store).
    let firstValidated: string | undefined;
    server.holdWhere(({ model, lastUserMessage }) => {
      if (!/^V\d+:/.test(lastUserMessage)) return false;
      firstValidated ??= model;
      return model !== firstValidated;
    });
    const child: ChildProcess = await startWorkerProcess(taskQueue);
    const experimentId = uniqueId('exp-selection-kill');
    const handle = await temporal.client.workflow.start(experimentWorkflow, {
      taskQueue,
      workflowId: experimentId,
      args: [{ experimentId, runDir, config: selectionConfig() }],
    });
    // Kill once a checkpoint of this run has its validation result saved, while others are still to score.
    const store = openStore(runDir);
    const resultKeys = (['wc', 'se'] as const).flatMap((data) =>
      [0, 1].flatMap((gridPoint) =>
        [2, 4, 6].map((step) => selectionKeys('student', data, gridPoint, step).result),
      ),
    );
    const deadline = Date.now() + 60_000;
    for (;;) {
      const saved = await Promise.all(resultKeys.map((key) => store.exists(key)));
      if (saved.some(Boolean)) break;
      if (Date.now() > deadline) throw new Error('no checkpoint was validated within 60 s');
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    child.kill('SIGKILL');
    await new Promise((resolve) => child.once('exit', resolve));
    const finished: Array<{ model: string; served: number }> = [];
    for (const key of resultKeys) {
      const score = await readJson<ValidationScore>(store, key);
      if (score) finished.push({ model: score.model, served: servedOf(score.model) });
    }
    expect(finished.length).toBe(1);
    // Held requests of the killed worker's connections are dropped by the release below (their clients are gone).
    server.release();

    const worker = await startWorker(taskQueue);
    try {
      const result = await handle.result();
      const student = result.setups.find((setup) => setup.setup === 'student')!;
      expect(student.runs.wc!.finetune.selection!.selected).toMatchObject({ learningRate: 3e-5, step: 4 });
      expect(student.runs.se!.finetune.selection!.selected).toMatchObject({ learningRate: 3e-5, step: 4 });
    } finally {
      await worker.stop();
    }
    // Every job was created once (the resumed grid polled the jobs it had started): 4 in all.
    expect(server.jobs().length - jobsBefore).toBe(4);
    // A checkpoint validated before the kill got no further request.
    for (const { model, served } of finished) {
      expect(served).toBe(8);
      expect(servedOf(model)).toBe(8);
    }
  });
});
