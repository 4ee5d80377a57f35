// Test harness: a worker on its own task queue against the shared dev server, a temporary run directory,
// and small problem sets and configs.
import { Client, Connection, WorkflowFailedError } from '@temporalio/client';
import { DefaultLogger, NativeConnection, Runtime, type Worker } from '@temporalio/worker';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, inject } from 'vitest';
import { validateConfig, type ExperimentConfig } from '../../core/config.js';
import { createWorker } from '../../workers/worker.js';
import {
  answerScript,
  goldTable,
  startScriptedServer,
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

export async function tempDir(prefix: string): Promise<string> {
  return mkdtemp(path.join(os.tmpdir(), `wcse-${prefix}-`));
}

/** `count` arithmetic questions "Q<i>: what is <i> + <i>?" with gold 2i, as a generic JSONL file. */
export async function writeProblems(
  dir: string,
  count: number,
): Promise<{ file: string; gold: Map<string, string> }> {
  const gold = new Map<string, string>();
  const lines: string[] = [];
  for (let i = 1; i <= count; i++) {
    const question = `Q${i}: what is ${i} + ${i}?`;
    gold.set(question, String(2 * i));
    lines.push(JSON.stringify({ id: `q${i}`, question, answer: String(2 * i) }));
  }
  const file = path.join(dir, 'problems.jsonl');
  await writeFile(file, lines.join('\n') + '\n');
  return { file, gold };
}

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

/** The generic problem-set config block for files written by writeProblems. */
export function problemsBlock(file: string) {
  return { path: file, kind: 'generic', fields: { question: 'question', answer: 'answer', id: 'id' } };
}
