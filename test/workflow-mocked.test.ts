// The experiment workflow alone: a worker whose activities are plain mocks, so the test sees exactly which
// activities the workflow calls, in which order, with which arguments, and what pause and resume hold back.
import { afterAll, beforeAll, describe, expect, inject, it, vi } from 'vitest';
import path from 'node:path';
import { WorkflowNotFoundError, type Client, type Connection } from '@temporalio/client';
import { NativeConnection, Worker } from '@temporalio/worker';
import type * as activities from '../activities/index.js';
import { answerFormatOf, SOURCES, type DataSource, type ExperimentConfig } from '../core/config.js';
import { planComputeMatched, type Plan } from '../core/plan.js';
import { promptTokenStats } from '../core/prompt-stats.js';
import { EMPTY_LEDGER, type DatasetManifest, type Problem } from '../core/records.js';
import type { Setup } from '../core/results.js';
import { experimentWorkflow, type ExperimentResult } from '../workflows/experiment.js';
import {
  experimentProgressQuery,
  pauseSignal,
  resumeSignal,
  samplingProgressQuery,
  type Stage,
} from '../workflows/messages.js';
import {
  model,
  NAMESPACE,
  problemsBlock,
  tempDir,
  temporalClient,
  testConfig,
  uniqueId,
} from './support/harness.js';

type Activities = typeof activities;
type Call = { [K in keyof Activities]: { name: K; input: Parameters<Activities[K]>[0] } }[keyof Activities];

const QUESTIONS = 8;
const BATCH_SIZE = 2;
const BATCHES = QUESTIONS / BATCH_SIZE;
/** Every stage of a run, in order. */
const ALL_STAGES: Stage[] = ['prepare', 'sample', 'verify', 'analyse', 'datasets', 'finetune', 'report'];
/** The stage each activity belongs to. */
const STAGE_OF: Record<keyof Activities, Stage> = {
  prepareRun: 'prepare',
  sampleBatch: 'sample',
  verifySource: 'verify',
  judgeFalsePositives: 'judge',
  analyseRun: 'analyse',
  buildDataset: 'datasets',
  buildGoldDataset: 'datasets',
  buildWarmupDataset: 'warmup',
  runFinetuneJob: 'finetune',
  validateCheckpoint: 'finetune',
  evaluateModel: 'finetune',
  judgeTestOutputs: 'finetune',
  writeReport: 'report',
  // The study workflow's activities (workflows/study.ts): never called by an experiment.
  planStudyRun: 'prepare',
  buildStudyView: 'datasets',
  stageStudyJob: 'finetune',
  readStudyArmResult: 'report',
  writeStudyArmResult: 'report',
  writeStudyReport: 'report',
};

/** A promise the test resolves; activities wait on it to hold the workflow in a stage. */
class Gate {
  private opened = Promise.resolve();
  private release: () => void = () => {};
  close(): void {
    this.opened = new Promise((resolve) => (this.release = resolve));
  }
  open(): void {
    this.release();
    this.opened = Promise.resolve();
  }
  wait(): Promise<void> {
    return this.opened;
  }
}

const calls: Call[] = [];
const gates = { prepare: new Gate(), sample: new Gate() };
let plan: Plan;

function callsOf<K extends keyof Activities>(name: K): Array<Parameters<Activities[K]>[0]> {
  return calls.filter((call) => call.name === name).map((call) => call.input as Parameters<Activities[K]>[0]);
}

function manifest(source: DataSource, examples: number): DatasetManifest {
  const part = (split: string, n: number) => ({
    key: `datasets/${source}/${split}.jsonl`,
    examples: n,
    questions: n,
    sha256: `sha-${source}-${split}`,
  });
  return {
    source,
    train: part('train', examples),
    validation: part('validation', examples > 0 ? 1 : 0),
    correctSamples: examples + 1,
    dedupe: false,
    duplicates: 0,
    duplicatesDropped: 0,
    cappedDropped: 0,
    maxPerQuestion: null,
    questionsWithheld: 0,
    validationFraction: 0,
  };
}

/** Mock activities: each records its call and returns a small, well-formed result. */
const mocks: Activities = {
  prepareRun: vi.fn(async (input) => {
    calls.push({ name: 'prepareRun', input });
    await gates.prepare.wait();
    return {
      plan,
      questions: QUESTIONS,
      problemsSha256: 'sha-problems',
      promptTokensUpperBoundSum: { wc: 1000, se: 1000 },
    };
  }),
  sampleBatch: vi.fn(async (input) => {
    calls.push({ name: 'sampleBatch', input });
    await gates.sample.wait();
    const samples = (input.questionEnd - input.questionStart) * input.samplesPerQuestion;
    return {
      key: `samples/${input.source}/${input.round}-${input.batchIndex}.jsonl`,
      artifact: 'mock',
      questions: input.questionEnd - input.questionStart,
      ledger: { ...EMPTY_LEDGER, requests: samples, samples, promptTokens: 10 * samples, flops: samples },
      reused: false,
    };
  }),
  verifySource: vi.fn(async (input) => {
    calls.push({ name: 'verifySource', input });
    return {
      source: input.source,
      artifact: `verdicts/${input.source}.jsonl`,
      samples: 16,
      correct: 5,
      verifierVersion: 'mock',
    };
  }),
  judgeFalsePositives: vi.fn(async (input) => {
    calls.push({ name: 'judgeFalsePositives', input });
    throw new Error('the config has no judge: judgeFalsePositives must not run');
  }),
  analyseRun: vi.fn(async (input) => {
    calls.push({ name: 'analyseRun', input });
    return { artifact: 'metrics.json' };
  }),
  buildDataset: vi.fn(async (input) => {
    calls.push({ name: 'buildDataset', input });
    // SE contributes no training data: every setup trains on WC data only.
    return manifest(input.source, input.source === 'wc' ? 3 : 0);
  }),
  buildGoldDataset: vi.fn(async (input) => {
    calls.push({ name: 'buildGoldDataset', input });
    return manifest('gold', 2);
  }),
  buildWarmupDataset: vi.fn(async (input) => {
    calls.push({ name: 'buildWarmupDataset', input });
    return { key: 'warmup/dataset.jsonl', examples: 4, sha256: 'sha-warmup' };
  }),
  runFinetuneJob: vi.fn(async (input) => {
    calls.push({ name: 'runFinetuneJob', input });
    return {
      setup: input.setup,
      data: input.data,
      baseModel: input.baseModel,
      jobId: `job-${input.setup}-${input.data}`,
      fineTunedModel: `ft:${input.baseModel}:${input.setup}-${input.data}`,
      status: 'succeeded',
      trainedTokens: 100,
      hyperparameters: {},
      trainingFileId: 'file-train',
      validationFileId: null,
      eventsKey: `finetune/${input.setup}-${input.data}.events.json`,
      wallSeconds: 1,
    };
  }),
  validateCheckpoint: vi.fn(async (input) => {
    calls.push({ name: 'validateCheckpoint', input });
    return { ...input, model: input.model.model, n: 4, correct: 2, accuracy: 0.5 };
  }),
  evaluateModel: vi.fn(async (input) => {
    calls.push({ name: 'evaluateModel', input });
    return {
      evalId: input.evalId,
      model: input.model.model,
      baseURL: input.model.baseURL,
      kind: input.kind,
      setup: input.setup,
      data: input.data,
      n: 4,
      correct: input.kind === 'base' ? 1 : 3,
      accuracy: input.kind === 'base' ? 0.25 : 0.75,
      ci: { low: 0, high: 1 },
      k: 1,
      passAtK: null,
      majAtK: null,
      byLevel: {},
      ledger: EMPTY_LEDGER,
      verifierVersion: 'mock',
    };
  }),
  judgeTestOutputs: vi.fn(async (input) => {
    calls.push({ name: 'judgeTestOutputs', input });
    return {
      ...input.evaluation,
      testSet: input.evaluation.testSet ?? 'test',
      pass: input.evaluation.fingerprint ?? 'greedy-mock',
      judged: 2,
      invalid: 1,
      unparsed: 0,
      fpr: 0.5,
      ci: { low: 0, high: 1 },
      judgeModel: input.judge.model,
      correctOutputs: 2,
      sampleSize: input.sampleSize,
      seed: input.seed,
      stratifiedByLevel: false,
    };
  }),
  writeReport: vi.fn(async (input) => {
    calls.push({ name: 'writeReport', input });
    return { reportJson: 'report.json', reportMd: 'report.md', charts: [], headline: 'mock' };
  }),
  ...studyActivitiesNeverCalled(),
};

/** The study workflow's activities: an experiment never calls them. */
function studyActivitiesNeverCalled() {
  const never = (name: string) => () => Promise.reject(new Error(`${name}: not an experiment activity`));
  return {
    planStudyRun: vi.fn(never('planStudyRun')),
    buildStudyView: vi.fn(never('buildStudyView')),
    stageStudyJob: vi.fn(never('stageStudyJob')),
    readStudyArmResult: vi.fn(never('readStudyArmResult')),
    writeStudyArmResult: vi.fn(never('writeStudyArmResult')),
    writeStudyReport: vi.fn(never('writeStudyReport')),
  };
}

/** The stages in the order their activities were first called. */
function stageOrder(): Stage[] {
  const stages: Stage[] = [];
  for (const call of calls) {
    const stage = STAGE_OF[call.name];
    if (stages.at(-1) !== stage) stages.push(stage);
  }
  return stages;
}

async function settle(ms: number): Promise<void> {
  await new Promise((resolve) => setTimeout(resolve, ms));
}

describe('the experiment workflow with mocked activities', () => {
  const taskQueue = uniqueId('tq-mocked');
  const endpoint = 'http://127.0.0.1:9/v1'; // never called: every activity is a mock
  let config: ExperimentConfig;
  let dir: string;
  let client: Client;
  let connection: Connection;
  let nativeConnection: NativeConnection;
  let worker: Worker;
  let running: Promise<void>;

  beforeAll(async () => {
    dir = await tempDir('mocked');
    config = testConfig({
      problems: problemsBlock(path.join(dir, 'problems.jsonl')),
      models: {
        wc: model(endpoint, 'weak', 1e9, { concurrency: 1 }),
        se: model(endpoint, 'strong', 2e9, { concurrency: 1 }),
        // The student shares the WC model's endpoint and id: one base evaluation serves both setups.
        student: model(endpoint, 'weak', 1e9),
      },
      budget: { mode: 'ratio', samplesPerQuestion: 2 },
      sampling: { batchSize: BATCH_SIZE },
      finetune: { hyperparameters: { epochs: 1 }, setups: { student: true, wc: true, se: false } },
      evaluation: { problems: problemsBlock(path.join(dir, 'test.jsonl')), temperature: 0.5 },
    });
    const problems: Problem[] = Array.from({ length: QUESTIONS }, (_, i) => ({
      id: `q${i}`,
      question: `Q${i}: what is ${i} + ${i}?`,
      gold: String(2 * i),
    }));
    plan = planComputeMatched(config, {
      questions: QUESTIONS,
      promptTokens: promptTokenStats(config, problems),
    });
    ({ client, connection } = await temporalClient());
    nativeConnection = await NativeConnection.connect({ address: inject('temporalAddress') });
    worker = await Worker.create({
      connection: nativeConnection,
      namespace: NAMESPACE,
      taskQueue,
      workflowBundle: { codePath: inject('workflowBundlePath') },
      activities: mocks,
    });
    running = worker.run();
  });
  afterAll(async () => {
    if (worker?.getState() === 'RUNNING') worker.shutdown();
    await running;
    await nativeConnection?.close();
    await connection?.close();
  });

  const start = (name: string) => {
    calls.length = 0;
    const workflowId = uniqueId(name);
    return client.workflow.start(experimentWorkflow, {
      taskQueue,
      workflowId,
      args: [{ experimentId: workflowId, runDir: path.join(dir, name), config }],
    });
  };

  it('runs the stages in order and passes each activity what the config and earlier stages say', async () => {
    const handle = await start('order');
    const runDir = path.join(dir, 'order');
    const result: ExperimentResult = await handle.result();

    expect(stageOrder()).toEqual(ALL_STAGES);
    const progress = await handle.query(experimentProgressQuery);
    expect(progress.stage).toBe('done');
    expect(progress.stagesDone).toEqual(ALL_STAGES);

    expect(callsOf('prepareRun')).toEqual([{ runDir, config }]);

    // Ratio mode: one round, every question once per source, in batches of BATCH_SIZE.
    for (const source of SOURCES) {
      const batches = callsOf('sampleBatch')
        .filter((input) => input.source === source)
        .sort((a, b) => a.batchIndex - b.batchIndex);
      expect(batches).toEqual(
        Array.from({ length: BATCHES }, (_, i) => ({
          runDir,
          source,
          model: config.models[source],
          countPromptTokens: config.budget.countPromptTokens,
          round: 0,
          batchIndex: i,
          questionStart: i * BATCH_SIZE,
          questionEnd: (i + 1) * BATCH_SIZE,
          samplesPerQuestion: plan[source].samplesPerRound,
          firstSampleIndex: 0,
        })),
      );
      const samples = QUESTIONS * plan[source].samplesPerRound;
      expect(result.sampling[source]).toMatchObject({
        source,
        rounds: 1,
        stopReason: 'planned samples drawn',
      });
      expect(result.sampling[source].ledger.samples).toBe(samples);
      expect(progress.sampling[source]).toMatchObject({ done: true, samplesDone: samples });
    }
    expect(plan.wc.samplesPerRound).toBe(2 * plan.se.samplesPerRound);

    const format = answerFormatOf(config.problems);
    expect(callsOf('verifySource')).toEqual(SOURCES.map((source) => ({ runDir, source, format })));
    expect(result.verify.se).toMatchObject({ source: 'se', correct: 5 });
    expect(callsOf('analyseRun')).toEqual([{ runDir }]);
    expect(callsOf('buildDataset')).toEqual(
      SOURCES.map((source) => ({
        runDir,
        source,
        dedupe: config.datasets.dedupe,
        maxPerQuestion: config.datasets.maxPerQuestion,
        validationFraction: config.datasets.validationFraction,
        seed: config.datasets.seed,
        prompt: config.evaluation!.prompt,
      })),
    );
    expect(callsOf('judgeFalsePositives')).toEqual([]);

    // Two enabled setups, both on WC data only (SE has no training examples), sharing one base model.
    const jobs = callsOf('runFinetuneJob');
    expect(jobs.map((job) => `${job.setup}/${job.data}`).sort()).toEqual(['student/wc', 'wc/wc']);
    for (const job of jobs) {
      expect(job).toMatchObject({
        baseModel: 'weak',
        trainKey: 'datasets/wc/train.jsonl',
        validationKey: 'datasets/wc/validation.jsonl',
        suffix: `${config.finetune!.suffix}-${job.setup}-wc`.slice(0, 40),
      });
    }
    const evaluations = callsOf('evaluateModel');
    const base = evaluations.filter((e) => e.kind === 'base');
    expect(base.map((e) => [e.evalId, e.setup, e.data, e.model.model])).toEqual([
      ['base-weak', 'student', null, 'weak'],
    ]);
    const finetuned = evaluations
      .filter((e) => e.kind === 'finetuned')
      .sort((a, b) => a.evalId.localeCompare(b.evalId));
    expect(finetuned.map((e) => [e.evalId, e.model.model])).toEqual([
      ['student-on-wc', 'ft:weak:student-wc'],
      ['wc-on-wc', 'ft:weak:wc-wc'],
    ]);
    for (const e of evaluations) expect(e.model.sampling.temperature).toBe(0.5);

    expect(result.setups.map((s) => s.setup)).toEqual(['student', 'wc'] satisfies Setup[]);
    for (const setup of result.setups) {
      expect(setup.base.evalId).toBe('base-weak');
      expect(Object.keys(setup.runs)).toEqual(['wc']);
      expect(setup.skipped.se).toMatch(/no correct SE solutions/);
    }
    expect(callsOf('writeReport')).toEqual([
      { runDir, experimentId: handle.workflowId, sampling: result.sampling, setups: result.setups },
    ]);
    expect(result.childWorkflowIds).toHaveLength(4);
  });

  it('pause holds the next stage and, forwarded to the sampling children, the next batch; resume goes on', async () => {
    gates.prepare.close();
    const handle = await start('pause');
    await expect.poll(() => callsOf('prepareRun').length, { timeout: 20_000 }).toBe(1);
    await handle.signal(pauseSignal);
    await expect.poll(async () => (await handle.query(experimentProgressQuery)).paused).toBe(true);
    gates.prepare.open();

    // Prepared, then held at the start of the sampling stage: no child started, no batch drawn.
    await expect
      .poll(async () => (await handle.query(experimentProgressQuery)).stage, { timeout: 20_000 })
      .toBe('sample');
    await settle(1000);
    const { samplingWorkflowIds } = await handle.query(experimentProgressQuery);
    expect(callsOf('sampleBatch')).toEqual([]);
    await expect(client.workflow.getHandle(samplingWorkflowIds.wc).describe()).rejects.toBeInstanceOf(
      WorkflowNotFoundError,
    );

    // Resumed: each child fills its window (two batches, concurrency 1) and waits on the held batches.
    gates.sample.close();
    await handle.signal(resumeSignal);
    await expect.poll(() => callsOf('sampleBatch').length, { timeout: 20_000 }).toBe(2 * SOURCES.length);
    // The parent forwards signals once it has seen both children start.
    await expect
      .poll(async () => {
        const { events } = await handle.fetchHistory();
        const started = events!.filter((e) => e.childWorkflowExecutionStartedEventAttributes).length;
        // A workflow task completed after the last start: the parent has seen both (patch markers may follow).
        const lastStart = events!.findLastIndex((e) => e.childWorkflowExecutionStartedEventAttributes);
        const seen = events!.slice(lastStart + 1).some((e) => e.workflowTaskCompletedEventAttributes);
        return started === SOURCES.length && seen;
      })
      .toBe(true);
    await handle.signal(pauseSignal);
    for (const source of SOURCES) {
      const child = client.workflow.getHandle(samplingWorkflowIds[source]);
      await expect.poll(async () => (await child.query(samplingProgressQuery)).paused).toBe(true);
    }
    gates.sample.open();
    for (const source of SOURCES) {
      const child = client.workflow.getHandle(samplingWorkflowIds[source]);
      await expect.poll(async () => (await child.query(samplingProgressQuery)).batchesDone).toBe(2);
    }
    await settle(1000);
    expect(callsOf('sampleBatch')).toHaveLength(2 * SOURCES.length);
    expect((await handle.query(experimentProgressQuery)).stage).toBe('sample');

    await handle.signal(resumeSignal);
    const result = await handle.result();
    expect(callsOf('sampleBatch')).toHaveLength(BATCHES * SOURCES.length);
    expect(result.sampling.wc.ledger.samples).toBe(QUESTIONS * plan.wc.samplesPerRound);
    expect(stageOrder()).toEqual(ALL_STAGES);
  });
});
