// Test harness: a worker on its own task queue against the shared dev server, a temporary run directory,
// and small problem sets and configs.
import { Client, Connection, WorkflowFailedError } from '@temporalio/client';
import { DefaultLogger, NativeConnection, Runtime, type Worker } from '@temporalio/worker';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, inject, onTestFinished } from 'vitest';
import { validateConfig, type ExperimentConfig } from '../../core/config.js';
import { createWorker } from '../../workers/worker.js';
import {
  answerScript,
  goldTable,
  startScriptedServer,
  type AnswerScriptOptions,
  type ModelScript,
  type ScriptedServer,
} from './scripted-server.js';
import {
  experimentWorkflow,
  type ExperimentInput,
  type ExperimentResult,
} from '../../workflows/experiment.js';

export const NAMESPACE = 'default';

// Expected failures (fault injection) log activity failures as warnings; only errors show in test output.
Runtime.install({ logger: new DefaultLogger('ERROR') });

let counter = 0;
export function uniqueId(prefix: string): string {
  return `${prefix}-${process.pid}-${Date.now().toString(36)}-${counter++}`;
}

export async function temporalClient(): Promise<{ client: Client; connection: Connection }> {
  const connection = await Connection.connect({ address: inject('temporalAddress') });
  return { client: new Client({ connection, namespace: NAMESPACE }), connection };
}

export interface RunningWorker {
  worker: Worker;
  taskQueue: string;
  /** Resolves when the worker has stopped. */
  done: Promise<void>;
  stop(): Promise<void>;
}

export async function startWorker(taskQueue: string): Promise<RunningWorker> {
  const connection = await NativeConnection.connect({ address: inject('temporalAddress') });
  const worker = await createWorker({
    connection,
    namespace: NAMESPACE,
    taskQueue,
    workflowBundlePath: inject('workflowBundlePath'),
    shutdownGraceTime: '1 second',
  });
  const done = worker.run().finally(() => connection.close());
  return {
    worker,
    taskQueue,
    done,
    async stop() {
      if (worker.getState() === 'RUNNING') worker.shutdown();
      await done;
    },
  };
}

/** A worker in a child process that a test can SIGKILL. */
export async function startWorkerProcess(taskQueue: string): Promise<ChildProcess> {
  const child = spawn(process.execPath, ['--import', 'tsx', 'test/support/worker-process.ts'], {
    env: {
      ...process.env,
      WCSE_TEST_TEMPORAL_ADDRESS: inject('temporalAddress'),
      WCSE_TEST_TASK_QUEUE: taskQueue,
      WCSE_TEST_WORKFLOW_BUNDLE: inject('workflowBundlePath'),
    },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  await new Promise<void>((resolve, reject) => {
    child.once('exit', (code) => reject(new Error(`worker process exited with ${code} before it was ready`)));
    child.stdout!.on('data', (chunk: Buffer) => {
      if (chunk.toString().includes('ready')) resolve();
    });
  });
  return child;
}

/**
 * A worker process (startWorkerProcess) for the current test, SIGKILLed when the test ends if still running;
 * `kill` SIGKILLs it and waits until it has exited.
 */
export async function workerProcessForTest(taskQueue: string): Promise<{ kill(): Promise<void> }> {
  const child = await startWorkerProcess(taskQueue);
  onTestFinished(() => {
    child.kill('SIGKILL');
  });
  return {
    async kill() {
      const exited = new Promise((resolve) => child.once('exit', resolve));
      child.kill('SIGKILL');
      await exited;
    },
  };
}

export async function tempDir(prefix: string): Promise<string> {
  return mkdtemp(path.join(os.tmpdir(), `wcse-${prefix}-`));
}

import { writeProblems } from './problem-files.js';
export { writeProblems, writeSolvedProblems, writeTimesTable, type ProblemFile } from './problem-files.js';

export function model(
  baseURL: string,
  name: string,
  params: number,
  overrides: Record<string, unknown> = {},
) {
  return {
    model: name,
    baseURL,
    params,
    apiKeyEnv: 'WCSE_TEST_API_KEY',
    sampling: { temperature: 0.7, maxTokens: 64 },
    concurrency: 4,
    ...overrides,
  };
}

export function testConfig(raw: Record<string, unknown>): ExperimentConfig {
  return validateConfig({ name: 'test', ...raw }, 'test-config');
}

export async function runExperiment(
  client: Client,
  taskQueue: string,
  input: Omit<ExperimentInput, 'experimentId'> & { experimentId?: string },
): Promise<ExperimentResult> {
  const experimentId = input.experimentId ?? uniqueId('exp');
  return client.workflow.execute(experimentWorkflow, {
    taskQueue,
    workflowId: experimentId,
    args: [{ ...input, experimentId }],
  });
}

/** The message of the innermost cause of a workflow failure (the CLI prints the same). */
export { rootCause as rootCauseMessage } from '../../cli/run.js';
/** The type of the innermost ApplicationFailure of a workflow failure (core/failures.ts names them). */
export { rootFailureType } from '../../core/failures.js';

export { WorkflowFailedError };

/** A temporary directory with a problem set (writeProblems) and a scripted endpoint that answers it. */
export interface ScriptedStudy {
  dir: string;
  problemsFile: string;
  gold: Map<string, string>;
  server: ScriptedServer;
}

export interface ScriptedStudyOptions {
  name: string;
  questions: number;
  /**
   * The endpoint's models. By default `weak` answers half its samples correctly, all distinct, and `strong`
   * answers every sample correctly with one unique text per question.
   */
  models?: (gold: ReturnType<typeof goldTable>) => Record<string, ModelScript>;
}

export async function startScriptedStudy(options: ScriptedStudyOptions): Promise<ScriptedStudy> {
  const dir = await tempDir(options.name);
  const problems = await writeProblems(dir, options.questions);
  const gold = goldTable(Object.fromEntries(problems.gold));
  const server = await startScriptedServer({
    models: options.models?.(gold) ?? {
      weak: answerScript({ gold, correctFraction: 0.5 }),
      strong: answerScript({ gold, correctFraction: 1, variants: 1 }),
    },
  });
  return { dir, problemsFile: problems.file, gold: problems.gold, server };
}

/** A ScriptedStudy for the current test: its endpoint closes when the test ends. */
export async function scriptedStudyForTest(options: ScriptedStudyOptions): Promise<ScriptedStudy> {
  const study = await startScriptedStudy(options);
  onTestFinished(() => study.server.close());
  return study;
}

type ScriptOptions = Partial<Omit<AnswerScriptOptions, 'gold'>>;

/**
 * ScriptedStudyOptions.models with `weak` answering half its samples correctly and `strong` every one,
 * `both` applied to each and `strong` then to the strong model.
 */
export function weakAndStrong(both: ScriptOptions, strong: ScriptOptions = {}) {
  return (gold: ReturnType<typeof goldTable>): Record<string, ModelScript> => ({
    weak: answerScript({ gold, correctFraction: 0.5, ...both }),
    strong: answerScript({ gold, correctFraction: 1, ...both, ...strong }),
  });
}

/** ScriptedStudyOptions.models with one model, `weak`, answering half its samples correctly. */
export function weakOnly(options: ScriptOptions) {
  return (gold: ReturnType<typeof goldTable>): Record<string, ModelScript> => ({
    weak: answerScript({ gold, correctFraction: 0.5, ...options }),
  });
}

/**
 * The `models` block of a config: wc and se on one endpoint, alike but for params; by default wc calls
 * `weak` and se `strong`, and with one name both call it.
 */
export function wcSeModels(
  baseURL: string,
  params: { wc: number; se: number },
  overrides: Record<string, unknown> = {},
  names: { wc: string; se: string } | string = { wc: 'weak', se: 'strong' },
) {
  const called = typeof names === 'string' ? { wc: names, se: names } : names;
  return {
    wc: model(baseURL, called.wc, params.wc, overrides),
    se: model(baseURL, called.se, params.se, overrides),
  };
}

/** One experiment run on a scripted study: the study, the validated config, its run directory and result. */
export interface StudyRun {
  study: ScriptedStudy;
  config: ExperimentConfig;
  runDir: string;
  result: ExperimentResult;
}

/**
 * Runs one experiment on a fresh scripted study (closed when the test ends): its problems, and the rest of
 * the config from `fields`, given the study's endpoint.
 */
export async function runStudy(
  temporal: { client: Client; worker: RunningWorker },
  options: ScriptedStudyOptions,
  fields: (study: ScriptedStudy) => Record<string, unknown>,
): Promise<StudyRun> {
  const study = await scriptedStudyForTest(options);
  const config = testConfig({ problems: problemsBlock(study.problemsFile), ...fields(study) });
  const runDir = path.join(study.dir, 'run');
  const result = await runExperiment(temporal.client, temporal.worker.taskQueue, { runDir, config });
  return { study, config, runDir, result };
}

/**
 * A study for killing a worker mid-sampling, for the current test: one request per sample (supportsN false)
 * so that many are in flight, ratio 2 (WC 4 samples a question, SE 2), batches of 4, heartbeats timing out
 * after 3 s.
 */
export async function crashStudy(
  name: string,
  questions: number,
  params: { wc: number; se: number },
): Promise<ScriptedStudy & { config: ExperimentConfig }> {
  const study = await scriptedStudyForTest({ name, questions, models: weakAndStrong({ supportsN: false }) });
  const config = testConfig({
    problems: problemsBlock(study.problemsFile),
    models: wcSeModels(study.server.baseURL, params, { supportsN: false, concurrency: 4 }),
    budget: { mode: 'ratio', samplesPerQuestion: 2 },
    sampling: { batchSize: 4 },
    temporal: { heartbeatTimeoutSeconds: 3 },
  });
  return { ...study, config };
}

/** What most workflow tests need: a scripted study, a worker and a client. */
export interface StudyFixture extends ScriptedStudy {
  worker: RunningWorker;
  client: Client;
  close(): Promise<void>;
}

export async function startStudyFixture(options: ScriptedStudyOptions): Promise<StudyFixture> {
  const study = await startScriptedStudy(options);
  const { client, connection } = await temporalClient();
  const worker = await startWorker(uniqueId(`tq-${options.name}`));
  return {
    ...study,
    worker,
    client,
    async close() {
      await worker.stop();
      await connection.close();
      await study.server.close();
    },
  };
}

/**
 * A StudyFixture for the tests of the enclosing `describe`: started before them, closed after them. The
 * returned object is filled in by the time the first test runs.
 */
export function useStudyFixture(options: ScriptedStudyOptions): StudyFixture {
  const fixture = {} as StudyFixture;
  beforeAll(async () => {
    Object.assign(fixture, await startStudyFixture(options));
  });
  afterAll(async () => {
    await fixture.close?.();
  });
  return fixture;
}

/**
 * A client for the tests of the enclosing `describe`, and with `workerName` a worker on a task queue of its
 * own; closed after the tests. The returned object is filled in by the time the first test runs.
 */
export function useTemporal(): { client: Client };
export function useTemporal(workerName: string): { client: Client; worker: RunningWorker };
export function useTemporal(workerName?: string): { client: Client; worker?: RunningWorker } {
  const fixture = {} as { client: Client; worker?: RunningWorker };
  let connection: Connection | undefined;
  beforeAll(async () => {
    ({ client: fixture.client, connection } = await temporalClient());
    if (workerName) fixture.worker = await startWorker(uniqueId(`tq-${workerName}`));
  });
  afterAll(async () => {
    await fixture.worker?.stop();
    await connection?.close();
  });
  return fixture;
}

/**
 * Starts an experiment on a fixture's endpoint, its counts reset, that holds every request after the first
 * `holdAfter`; the run directory is named after the workflow id. Returns without waiting for a held request.
 */
export async function startHeldExperiment(
  fixture: StudyFixture,
  config: ExperimentConfig,
  options: { name: string; holdAfter: number },
) {
  const workflowId = uniqueId(`exp-${options.name}`);
  fixture.server.resetStats();
  fixture.server.holdAfter(options.holdAfter);
  return fixture.client.workflow.start(experimentWorkflow, {
    taskQueue: fixture.worker.taskQueue,
    workflowId,
    args: [{ experimentId: workflowId, runDir: path.join(fixture.dir, workflowId), config }],
  });
}

/** The generic problem-set config block for files written by writeProblems. */
export function problemsBlock(file: string) {
  return {
    path: file,
    kind: 'generic' as const,
    fields: { question: 'question', answer: 'answer', id: 'id' },
  };
}
