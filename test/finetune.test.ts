// The second half of the study against a scripted fine-tuning service: three setups, each finetuned on
// WC and on SE data, evaluated against the untouched base; crash, failure, resume and cancel.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ChildProcess } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import {
  answerScript,
  goldTable,
  startScriptedServer,
  type ScriptedServer,
} from './support/scripted-server.js';
import {
  model,
  rootCauseMessage,
  rootFailureType,
  startWorker,
  startWorkerProcess,
  tempDir,
  testConfig,
  uniqueId,
  useTemporal,
  writeProblems,
  writeTimesTable,
  problemsBlock,
} from './support/harness.js';
import { experimentWorkflow, type ExperimentInput } from '../workflows/experiment.js';
import type { ExperimentConfig } from '../core/config.js';
import { FailureType } from '../core/failures.js';

process.env.WCSE_TEST_API_KEY = 'sk-test-finetune';

const TEST_QUESTIONS = 8;
/** Accuracy (in eighths) each model answers the test questions with; finetuned: by (setup base, data). */
const ACCURACY: Record<string, number> = {
  weak: 2,
  strong: 4,
  student: 1,
  'ft:weak:wc': 4,
  'ft:weak:se': 3,
  'ft:strong:wc': 6,
  'ft:strong:se': 5,
  'ft:student:wc': 3,
  'ft:student:se': 2,
};

/** Test question "T<i>: ..." is answered correctly iff i <= correctCount, on every sample. */
function accuracyScript(gold: ReturnType<typeof goldTable>, correctCount: number) {
  return answerScript({
    gold,
    correct: (s) => {
      const match = s.question.match(/T(\d+):/);
      return match ? Number(match[1]) <= correctCount : s.k % 2 === 0;
    },
  });
}

function writeTestProblems(dir: string, { name = 'test', factor = 3, count = TEST_QUESTIONS } = {}) {
  return writeTimesTable(dir, { name, prefix: 'T', factor, count, id: (i) => `${name}-${i}` });
}

/** A second test set (4 questions "T<i>: what is i times 7?"), for runs with named test sets. */
const EXTRA_QUESTIONS = 4;

describe('finetune, evaluate, report', () => {
  const temporal = useTemporal();
  let server: ScriptedServer;
  let dir: string;
  let config: ExperimentConfig;
  let failNext: string | null = null;
  let extraFile = '';
  let child: ChildProcess | undefined;

  const makeEnvironment = async (jobDurationMs: number) => {
    const train = await writeProblems(dir, 6);
    const test = await writeTestProblems(dir);
    const extra = await writeTestProblems(dir, { name: 'extra', factor: 7, count: EXTRA_QUESTIONS });
    extraFile = extra.file;
    const gold = goldTable(Object.fromEntries([...train.gold, ...test.gold, ...extra.gold]));
    const endpoint = await startScriptedServer({
      models: {
        weak: accuracyScript(gold, ACCURACY.weak),
        strong: accuracyScript(gold, ACCURACY.strong),
        student: accuracyScript(gold, ACCURACY.student),
      },
      fineTuning: {
        durationMs: jobDurationMs,
        failWith: (job) => {
          if (failNext && job.suffix?.includes(failNext)) return 'training loss diverged (scripted)';
          return undefined;
        },
        modelFor: (job) => {
          const data = job.suffix!.endsWith('-wc') ? 'wc' : 'se';
          return accuracyScript(gold, ACCURACY[`ft:${job.model}:${data}`]);
        },
      },
    });
    const experimentConfig = testConfig({
      problems: problemsBlock(train.file),
      models: {
        wc: model(endpoint.baseURL, 'weak', 1e9),
        se: model(endpoint.baseURL, 'strong', 2e9),
        student: model(endpoint.baseURL, 'student', 0.5e9),
      },
      budget: { mode: 'ratio', samplesPerQuestion: 2 },
      datasets: { validationFraction: 0.2 },
      finetune: { hyperparameters: { epochs: 2, learningRateMultiplier: 0.5 }, pollIntervalSeconds: 1 },
      evaluation: {
        problems: problemsBlock(test.file),
      },
      temporal: { heartbeatTimeoutSeconds: 3 },
    });
    return { endpoint, experimentConfig };
  };

  beforeAll(async () => {
    dir = await tempDir('finetune');
    ({ endpoint: server, experimentConfig: config } = await makeEnvironment(1500));
  });
  afterAll(async () => {
    child?.kill('SIGKILL');
    await server?.close();
  });

  const start = async (taskQueue: string, runDir: string, experimentConfig = config) => {
    const workflowId = uniqueId('exp-ft');
    const input: ExperimentInput = { experimentId: workflowId, runDir, config: experimentConfig };
    return temporal.client.workflow.start(experimentWorkflow, { taskQueue, workflowId, args: [input] });
  };

  it('runs all three setups; the report table is what the script implies; a crash never makes a second job', async () => {
    const taskQueue = uniqueId('tq-ft');
    const runDir = path.join(dir, 'full');
    const jobsBefore = server.jobs().length;
    child = await startWorkerProcess(taskQueue);
    const handle = await start(taskQueue, runDir);
    // Kill the worker while jobs are running at the service.
    await server.waitFor((s) => s.fineTuning.jobsCreated - jobsBefore >= 2, 60_000, 'jobs created');
    child.kill('SIGKILL');
    await new Promise((resolve) => child!.once('exit', resolve));
    const worker = await startWorker(taskQueue);
    try {
      const result = await handle.result();
      const jobs = server.jobs().slice(jobsBefore);
      expect(jobs).toHaveLength(6);
      const suffixes = jobs.map((job) => job.user_provided_suffix).sort();
      expect(new Set(suffixes).size).toBe(6);
      expect(jobs.every((job) => job.status === 'succeeded')).toBe(true);
      expect(jobs.every((job) => job.hyperparameters.n_epochs === 2)).toBe(true);

      expect(result.setups.map((s) => s.setup).sort()).toEqual(['se', 'student', 'wc']);
      const report = JSON.parse(await readFile(path.join(runDir, 'report.json'), 'utf8'));
      const baseOf = { student: 'student', wc: 'weak', se: 'strong' } as const;
      for (const row of report.finetune) {
        const expected =
          ACCURACY[`ft:${baseOf[row.setup as keyof typeof baseOf]}:${row.data}`] / TEST_QUESTIONS;
        expect(row.accuracy).toBeCloseTo(expected, 10);
        expect(row.n).toBe(TEST_QUESTIONS);
        expect(row.ci.low).toBeLessThanOrEqual(row.accuracy);
        expect(row.ci.high).toBeGreaterThanOrEqual(row.accuracy);
      }
      expect(report.finetune).toHaveLength(6);
      const md = await readFile(path.join(runDir, 'report.md'), 'utf8');
      expect(md.length).toBeGreaterThan(500);
      for (const chart of ['coverage', 'diversity', 'finetune']) {
        for (const ext of ['svg', 'png']) {
          const bytes = await readFile(path.join(runDir, 'charts', `${chart}.${ext}`));
          expect(bytes.length).toBeGreaterThan(500);
        }
      }
    } finally {
      await worker.stop();
    }
  });

  it('a failed job fails its step with the service message; resume finishes without resampling or re-running jobs', async () => {
    const { client } = temporal;
    const taskQueue = uniqueId('tq-ft-fail');
    const runDir = path.join(dir, 'fail');
    const worker = await startWorker(taskQueue);
    try {
      failNext = 'wc-se'; // the WC-LM finetuned on SE data
      const jobsBefore = server.jobs().length;
      const handle = await start(taskQueue, runDir);
      const error = await handle.result().catch((e: unknown) => e);
      expect(rootFailureType(error)).toBe(FailureType.FineTuningJobFailed);
      expect(rootCauseMessage(error)).toMatch(/job .* failed: .*training loss diverged \(scripted\)/);
      const sampledBefore = server.stats.served;
      const jobsAfterFailure = server.jobs().slice(jobsBefore);
      const succeeded = jobsAfterFailure.filter((j) => j.status === 'succeeded').length;

      failNext = null;
      // `wcse resume`: a new run of the same experiment id with the same input.
      const description = await handle.describe();
      const resumed = await client.workflow.start(experimentWorkflow, {
        taskQueue,
        workflowId: description.workflowId,
        args: [{ experimentId: description.workflowId, runDir, config }],
      });
      const result = await resumed.result();
      expect(result.setups).toHaveLength(3);
      const jobsNow = server.jobs().slice(jobsBefore);
      // Only the failed job ran again (and jobs cancelled when the first run failed).
      const newJobs = jobsNow.length - jobsAfterFailure.length;
      expect(newJobs).toBe(6 - succeeded);
      // No chat request went to the training models for sampling again.
      const evaluationRequests = server.stats.served - sampledBefore;
      expect(evaluationRequests).toBeLessThanOrEqual(6 * TEST_QUESTIONS);
    } finally {
      await worker.stop();
    }
  });

  it('a changed evaluation is evaluated anew in the same run directory; maj@k and every test set reach the report', async () => {
    const { client } = temporal;
    const taskQueue = uniqueId('tq-ft-reeval');
    const runDir = path.join(dir, 'reeval');
    const worker = await startWorker(taskQueue);
    const jobsBefore = server.jobs().length;
    /** Choices served so far by each model this test's jobs made. */
    const finetunedServed = () =>
      Object.fromEntries(
        server
          .jobs()
          .slice(jobsBefore)
          .map((job) => [
            job.fine_tuned_model!,
            server.stats.perModel[job.fine_tuned_model!]?.servedChoices ?? 0,
          ]),
      );
    try {
      const first = await start(taskQueue, runDir);
      await first.result();
      const jobs = server.jobs().length - jobsBefore;
      expect(jobs).toBe(6);
      const before = finetunedServed();
      // Each finetuned model answered every test question once (greedy pass@1).
      expect(Object.values(before)).toEqual(Array(6).fill(TEST_QUESTIONS));

      // The same experiment id again (`wcse resume`), the evaluation changed: another temperature, a second
      // named test set, maj@k from 2 samples per question.
      const changed: ExperimentConfig = {
        ...config,
        evaluation: {
          ...config.evaluation!,
          problems: undefined,
          testSets: {
            main: config.evaluation!.problems!,
            extra: { ...config.evaluation!.problems!, path: extraFile },
          },
          temperature: 0.5,
          majority: { k: [1, 2], temperature: 0.7, samples: 2 },
        },
      };
      const description = await first.describe();
      const again = await client.workflow.start(experimentWorkflow, {
        taskQueue,
        workflowId: description.workflowId,
        args: [{ experimentId: description.workflowId, runDir, config: changed }],
      });
      const result = await again.result();
      expect(server.jobs().length - jobsBefore).toBe(6); // no job ran again
      const after = finetunedServed();
      // Every finetuned model: greedy and 2 maj@k samples per question, on both sets, all sent anew.
      expect(Object.keys(after).sort()).toEqual(Object.keys(before).sort());
      for (const model of Object.keys(after)) {
        expect(after[model] - before[model]).toBe(3 * TEST_QUESTIONS + 3 * EXTRA_QUESTIONS);
      }
      const headline = result.setups.find((s) => s.setup === 'wc')!.runs.se!.evaluation;
      expect(headline.testSet).toBe('main');
      expect(Object.keys(headline.testSets ?? {})).toEqual(['main', 'extra']);

      const report = JSON.parse(await readFile(path.join(runDir, 'report.json'), 'utf8'));
      // 3 base models and 6 finetuned ones, each on both test sets.
      expect(report.evaluations).toHaveLength(18);
      const baseOf = { student: 'student', wc: 'weak', se: 'strong' } as const;
      for (const entry of report.evaluations.filter((e: { testSet: string }) => e.testSet === 'main')) {
        const base = baseOf[entry.setup as keyof typeof baseOf];
        const key = entry.data ? `ft:${base}:${entry.data}` : base;
        // Every sample of a question is equally right or wrong here, so maj@k equals pass@1 at every k.
        expect(entry.accuracy).toBeCloseTo(ACCURACY[key] / TEST_QUESTIONS, 10);
        expect(entry.majority.map((p: { k: number }) => p.k)).toEqual([1, 2]);
        for (const point of entry.majority)
          expect(point.accuracy).toBeCloseTo(ACCURACY[key] / TEST_QUESTIONS, 10);
      }
      const md = await readFile(path.join(runDir, 'report.md'), 'utf8');
      expect(md).toContain('On test set `main` (the first configured; `extra` below).');
      expect(md).toContain('**Test set `main`**');
      expect(md).toContain('**Test set `extra`**');
      expect(md).toMatch(/\| maj@1 \| maj@2 \|/);
      const chart = await readFile(path.join(runDir, 'charts', 'majority.svg'), 'utf8');
      expect(chart).toContain('maj@k');
    } finally {
      await worker.stop();
    }
  });

  it('cancelling the experiment during finetuning cancels the jobs at the service', async () => {
    const taskQueue = uniqueId('tq-ft-cancel');
    const runDir = path.join(dir, 'cancel');
    const worker = await startWorker(taskQueue);
    // Jobs that would run for a minute: the cancel reaches them while they run.
    const slow = await makeEnvironment(60_000);
    try {
      const handle = await start(taskQueue, runDir, slow.experimentConfig);
      await slow.endpoint.waitFor((s) => s.fineTuning.jobsCreated >= 6, 60_000, 'all jobs created');
      await handle.cancel();
      const outcome = await handle.result().catch((e: unknown) => e);
      expect(outcome).toBeInstanceOf(Error);
      const jobs = slow.endpoint.jobs();
      expect(jobs.length).toBe(6);
      expect(jobs.filter((j) => j.status === 'cancelled').length).toBe(6);
      expect(slow.endpoint.stats.fineTuning.jobsCancelled).toBe(6);
    } finally {
      await worker.stop();
      await slow.endpoint.close();
    }
  });
});
