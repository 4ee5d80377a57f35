// Random-kill benchmark (issue 13): one ratio-mode experiment run by a worker process that is SIGKILLed N
// times at random (seeded) moments of sampling and restarted each time, against the scripted endpoint on
// 127.0.0.1. Prints requests served vs planned, re-paid requests as the ledger counts them against what
// the endpoint saw beyond the plan, samples lost (must be 0; no (question, sampleIndex) missing or twice)
// and the recovery time of each kill. The anchor is the same experiment with no kill, in the same run:
// the ratio line is wall time killed / unkilled.
//
//   npm run bench:random-kill -- [--kills 20] [--questions 48] [--samples 2] [--batch-size 4]
//     [--latency-ms 40] [--concurrency 4] [--heartbeat-s 2] [--seed 1] [--timeout-s 540]
import { Client, Connection } from '@temporalio/client';
import { bundleWorkflowCode } from '@temporalio/worker';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { openStore, readJson, readLog } from '../../activities/store.js';
import { readFinishedBatch } from '../../activities/sampling.js';
import { SOURCES, validateConfig, type ExperimentConfig, type Source } from '../../core/config.js';
import { batchFiles, batchKeyOfMeta, isBatchMetaKey, samplesDir } from '../../core/layout.js';
import {
  answerScript,
  goldTable,
  startScriptedServer,
  type ServerStats,
} from '../../test/support/scripted-server.js';
import { mulberry32 } from '../../test/support/mulberry32.js';
import { writeProblems } from '../../test/support/problem-files.js';
import { ensureDevServer, PROJECT_ROOT } from '../../workers/temporal-cli.js';
import { WORKFLOWS_PATH } from '../../workers/worker.js';
import { experimentWorkflow, type ExperimentResult } from '../../workflows/experiment.js';

const { values } = parseArgs({
  options: {
    kills: { type: 'string', default: '20' },
    questions: { type: 'string', default: '48' },
    samples: { type: 'string', default: '2' },
    'batch-size': { type: 'string', default: '4' },
    'latency-ms': { type: 'string', default: '40' },
    concurrency: { type: 'string', default: '4' },
    'heartbeat-s': { type: 'string', default: '2' },
    seed: { type: 'string', default: '1' },
    'timeout-s': { type: 'string', default: '540' },
  },
});
function positiveInteger(name: keyof typeof values, min = 1): number {
  const value = Number(values[name]);
  if (!Number.isInteger(value) || value < min) throw new Error(`--${name} must be an integer >= ${min}`);
  return value;
}
const kills = positiveInteger('kills', 0);
const questions = positiveInteger('questions');
const samplesPerQuestion = positiveInteger('samples');
const batchSize = positiveInteger('batch-size');
const latencyMs = positiveInteger('latency-ms', 0);
const concurrency = positiveInteger('concurrency');
const heartbeatTimeoutSeconds = positiveInteger('heartbeat-s');
const seed = positiveInteger('seed', 0);
const timeoutSeconds = positiveInteger('timeout-s');

const API_KEY_ENV = 'WCSE_BENCH_API_KEY';
process.env[API_KEY_ENV] = 'sk-bench-random-kill';
const MODEL_NAME: Record<Source, string> = { wc: 'weak', se: 'strong' };

// Bounded in time: whatever happens, the benchmark stops itself.
const children = new Set<ChildProcess>();
const deadline = setTimeout(() => {
  console.error(`random-kill: gave up after ${timeoutSeconds} s`);
  for (const child of children) child.kill('SIGKILL');
  process.exit(2);
}, timeoutSeconds * 1000);
deadline.unref();

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Polls `predicate` every 5 ms; an error naming `what` after `timeoutMs`. */
async function until(predicate: () => boolean, timeoutMs: number, what: string): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!predicate()) {
    if (Date.now() > end) throw new Error(`random-kill: ${what} did not happen within ${timeoutMs} ms`);
    await sleep(5);
  }
}

const dir = await mkdtemp(path.join(os.tmpdir(), 'wcse-bench-random-kill-'));
const { file: problemsFile, gold } = await writeProblems(dir, questions);

function configFor(baseURL: string): ExperimentConfig {
  // One request per sample (no `n`), so that many requests are in flight when the worker dies.
  const model = (name: string, params: number) => ({
    model: name,
    baseURL,
    params,
    apiKeyEnv: API_KEY_ENV,
    supportsN: false,
    concurrency,
    sampling: { temperature: 0.7, maxTokens: 64 },
  });
  return validateConfig(
    {
      name: 'random-kill',
      problems: {
        path: problemsFile,
        kind: 'generic',
        fields: { question: 'question', answer: 'answer', id: 'id' },
      },
      models: { wc: model(MODEL_NAME.wc, 1e9), se: model(MODEL_NAME.se, 2e9) },
      budget: { mode: 'ratio', samplesPerQuestion },
      sampling: { batchSize },
      temporal: { heartbeatTimeoutSeconds },
    },
    'bench/random-kill',
  );
}

const temporal = await ensureDevServer({
  stateDir: path.join(dir, 'temporal'),
  detached: false,
  headless: true,
});
// One workflow bundle for every worker process, so that a restart costs what a real one does.
const bundlePath = path.join(dir, 'workflow-bundle.js');
const bundle = await bundleWorkflowCode({ workflowsPath: WORKFLOWS_PATH, logger: quietLogger() });
await writeFile(bundlePath, bundle.code);
const connection = await Connection.connect({ address: temporal.address });
const client = new Client({ connection });

/** A worker in its own process (test/support/worker-process.ts), resolved once it polls. */
async function startWorkerProcess(taskQueue: string): Promise<ChildProcess> {
  const child = spawn(process.execPath, ['--import', 'tsx', 'test/support/worker-process.ts'], {
    cwd: PROJECT_ROOT,
    env: {
      ...process.env,
      WCSE_TEST_TEMPORAL_ADDRESS: temporal.address,
      WCSE_TEST_TASK_QUEUE: taskQueue,
      WCSE_TEST_WORKFLOW_BUNDLE: bundlePath,
    },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  children.add(child);
  child.once('exit', () => children.delete(child));
  await new Promise<void>((resolve, reject) => {
    child.once('exit', (code, signal) =>
      reject(new Error(`worker process exited (${code ?? signal}) before it was ready`)),
    );
    child.stdout!.on('data', (chunk: Buffer) => {
      if (chunk.toString().includes('ready')) resolve();
    });
  });
  return child;
}

async function killWorker(child: ChildProcess): Promise<void> {
  const exited = new Promise((resolve) => child.once('exit', resolve));
  child.kill('SIGKILL');
  await exited;
}

interface KillRecord {
  /** Responses served when the worker died, and requests then in flight at the endpoint. */
  servedAtKill: number;
  inFlightAtKill: number;
  /** Responses served but not saved in the run directory when the worker died: paid for twice. */
  unsavedAtKill: number;
  /** From the restart (spawn) until the new worker polls. */
  startMs: number;
  /** From the restart until the endpoint serves the next response; null when none was left to request. */
  recoveryMs: number | null;
}

interface Outcome {
  wallSeconds: number;
  result: ExperimentResult;
  stats: ServerStats;
  kills: KillRecord[];
  check: SampleCheck;
}

/** Runs the experiment on a fresh endpoint and run directory, killing the worker `killCount` times. */
async function runOnce(name: string, killCount: number): Promise<Outcome> {
  const gold_ = goldTable(gold);
  const server = await startScriptedServer({
    models: {
      [MODEL_NAME.wc]: answerScript({ gold: gold_, correctFraction: 0.5, supportsN: false, latencyMs }),
      [MODEL_NAME.se]: answerScript({ gold: gold_, correctFraction: 1, supportsN: false, latencyMs }),
    },
  });
  try {
    const config = configFor(server.baseURL);
    const runDir = path.join(dir, name);
    const taskQueue = `bench-random-kill-${name}`;
    const experimentId = `bench-random-kill-${name}-${Date.now().toString(36)}`;
    let worker = await startWorkerProcess(taskQueue);
    const started = performance.now();
    const handle = await client.workflow.start(experimentWorkflow, {
      taskQueue,
      workflowId: experimentId,
      args: [{ experimentId, runDir, config }],
    });
    let finished = false;
    const resultPromise = handle.result().finally(() => {
      finished = true;
    });
    resultPromise.catch(() => {});

    // Kill moments: seeded served-response counts spread over the first 90% of the planned requests,
    // each followed by a random delay of up to one response latency, so kills land mid-request.
    const plannedRequests = questions * samplesPerQuestion * 3; // wc draws twice as many (params 1e9 vs 2e9)
    const next = mulberry32(seed);
    const moments = Array.from({ length: killCount }, () => 1 + Math.floor(next() * 0.9 * plannedRequests))
      .sort((a, b) => a - b)
      .map((served) => ({ served, delayMs: next() * Math.max(latencyMs, 1) }));
    const records: KillRecord[] = [];
    let previousGap = 0;
    for (const moment of moments) {
      await until(
        () => finished || server.stats.served >= moment.served,
        120_000,
        `response ${moment.served}`,
      );
      await sleep(moment.delayMs);
      if (finished) break;
      const servedAtKill = server.stats.served;
      const inFlightAtKill = server.stats.inFlight;
      await killWorker(worker);
      const served = server.stats.served;
      // Served beyond saved grows by what this kill lost (earlier kills' losses were served again).
      const gap = served - (await savedResponses(runDir));
      const unsavedAtKill = gap - previousGap;
      previousGap = gap;
      const restarted = performance.now();
      worker = await startWorkerProcess(taskQueue);
      const startMs = performance.now() - restarted;
      await until(
        () => finished || server.stats.served > served,
        120_000,
        'the first response after a restart',
      );
      const recoveryMs = server.stats.served > served ? performance.now() - restarted : null;
      records.push({ servedAtKill, inFlightAtKill, unsavedAtKill, startMs, recoveryMs });
    }
    const result = await resultPromise;
    const wallSeconds = (performance.now() - started) / 1000;
    await killWorker(worker);
    const check = await checkSamples(runDir, result);
    return { wallSeconds, result, stats: structuredClone(server.stats), kills: records, check };
  } finally {
    await server.close();
  }
}

/** The batch key (without extension) of any of a batch's artifacts. */
function batchOf(key: string): string {
  const dot = key.indexOf('.', key.lastIndexOf('/'));
  return dot === -1 ? key : key.slice(0, dot);
}

/**
 * Responses saved in the run directory: the requests of finished batches (meta.json) plus the complete
 * lines of unfinished batches' response logs (a line torn by the kill was not saved).
 */
async function savedResponses(runDir: string): Promise<number> {
  const store = openStore(runDir);
  let total = 0;
  for (const source of SOURCES) {
    for (const round of await store.list(samplesDir(source))) {
      const keys = await store.list(round);
      for (const key of keys) {
        if (isBatchMetaKey(key)) {
          total += (await readJson<{ ledger: { requests: number } }>(store, key))?.ledger.requests ?? 0;
        } else {
          const files = batchFiles(batchOf(key));
          if (key === files.parts && !keys.includes(files.meta)) total += (await readLog(store, key)).length;
        }
      }
    }
  }
  return total;
}

interface SampleCheck {
  planned: number;
  inBatches: number;
  missing: number;
  duplicated: number;
  /** Unfinished batches' response or send logs left behind. */
  leftoverLogs: number;
}

/**
 * Reads every finished batch back (each checked against its meta.json's sha256 and line count) and
 * counts the samples each (question, sampleIndex) has against the plan.
 */
async function checkSamples(runDir: string, result: ExperimentResult): Promise<SampleCheck> {
  const store = openStore(runDir);
  const check: SampleCheck = { planned: 0, inBatches: 0, missing: 0, duplicated: 0, leftoverLogs: 0 };
  for (const source of SOURCES) {
    const perQuestion = result.plan[source].samplesPerQuestion;
    check.planned += perQuestion * questions;
    const seen = new Map<string, number>();
    for (const round of await store.list(samplesDir(source))) {
      for (const key of await store.list(round)) {
        const files = batchFiles(batchOf(key));
        if (key === files.parts || key === files.sent) check.leftoverLogs++;
        if (!isBatchMetaKey(key)) continue;
        for (const sample of (await readFinishedBatch(store, batchKeyOfMeta(key))) ?? []) {
          const id = `${sample.questionId}#${sample.sampleIndex}`;
          seen.set(id, (seen.get(id) ?? 0) + 1);
          check.inBatches++;
        }
      }
    }
    for (let q = 1; q <= questions; q++) {
      for (let k = 0; k < perQuestion; k++) {
        const count = seen.get(`q${q}#${k}`) ?? 0;
        if (count === 0) check.missing++;
        if (count > 1) check.duplicated += count - 1;
        seen.delete(`q${q}#${k}`);
      }
    }
    // Samples outside the plan (an index beyond it) count as duplicated too: they were not asked for.
    for (const count of seen.values()) check.duplicated += count;
  }
  return check;
}

function quietLogger() {
  const quiet = () => {};
  return {
    log: quiet,
    trace: quiet,
    debug: quiet,
    info: quiet,
    warn: (message: string) => console.warn(message),
    error: (message: string) => console.error(message),
  };
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const seconds = (ms: number) => `${(ms / 1000).toFixed(2)} s`;

let failed = false;
try {
  console.log(
    `random-kill: ${questions} questions, ratio mode (${samplesPerQuestion} SE samples per question), batch ` +
      `${batchSize} questions, one request per sample, latency ${latencyMs} ms, concurrency ${concurrency} ` +
      `per model, heartbeat timeout ${heartbeatTimeoutSeconds} s, ${kills} kills (seed ${seed})`,
  );
  const unkilled = await runOnce('unkilled', 0);
  const killed = await runOnce('killed', kills);

  const row = (label: string, a: string | number, b: string | number) =>
    console.log(`${label.padEnd(44)}${String(a).padStart(12)}${String(b).padStart(14)}`);
  const ledgerRequests = (o: Outcome) =>
    SOURCES.reduce((sum, s) => sum + o.result.sampling[s].ledger.requests, 0);
  const plannedRequests = (o: Outcome) =>
    SOURCES.reduce((sum, s) => sum + o.result.plan[s].samplesPerQuestion * questions, 0);
  const repaid = (o: Outcome) =>
    SOURCES.reduce((sum, s) => sum + (o.result.sampling[s].ledger.repaidRequests ?? 0), 0);
  const lost = (o: Outcome) => o.check.planned - o.check.inBatches;
  console.log('');
  row('', 'unkilled', `killed (${killed.kills.length})`);
  row(
    'wall time (workflow start to result)',
    `${unkilled.wallSeconds.toFixed(1)} s`,
    `${killed.wallSeconds.toFixed(1)} s`,
  );
  row('requests planned', plannedRequests(unkilled), plannedRequests(killed));
  row('requests in the ledger (saved responses)', ledgerRequests(unkilled), ledgerRequests(killed));
  row('requests served by the endpoint', unkilled.stats.served, killed.stats.served);
  row('requests received by the endpoint', unkilled.stats.received, killed.stats.received);
  row('  of which aborted in flight by a kill', unkilled.stats.aborted, killed.stats.aborted);
  row(
    'served beyond planned (paid twice for sure)',
    unkilled.stats.served - plannedRequests(unkilled),
    killed.stats.served - plannedRequests(killed),
  );
  row(
    'received beyond planned (may be billed)',
    unkilled.stats.received - plannedRequests(unkilled),
    killed.stats.received - plannedRequests(killed),
  );
  row('re-paid requests (ledger.repaidRequests)', repaid(unkilled), repaid(killed));
  row('samples planned', unkilled.check.planned, killed.check.planned);
  row('samples lost (planned - in finished batches)', lost(unkilled), lost(killed));
  row(
    '(question, sampleIndex) missing / duplicated',
    `${unkilled.check.missing} / ${unkilled.check.duplicated}`,
    `${killed.check.missing} / ${killed.check.duplicated}`,
  );
  row('parts/sent logs left behind', unkilled.check.leftoverLogs, killed.check.leftoverLogs);
  console.log('');
  const recoveries = killed.kills.flatMap((k) => (k.recoveryMs === null ? [] : [k.recoveryMs]));
  const starts = killed.kills.map((k) => k.startMs);
  if (recoveries.length > 0) {
    console.log(
      `recovery per kill (restart to the next response served): median ${seconds(median(recoveries))}, ` +
        `max ${seconds(Math.max(...recoveries))} over ${recoveries.length} kills` +
        (recoveries.length < killed.kills.length
          ? ` (${killed.kills.length - recoveries.length} kills left no request to make)`
          : ''),
    );
    console.log(
      `  of which worker process start (restart to polling): median ${seconds(median(starts))}, ` +
        `max ${seconds(Math.max(...starts))}`,
    );
    const unsaved = killed.kills.map((k) => k.unsavedAtKill);
    console.log(
      `responses served but not yet saved at each kill (paid twice): median ${median(unsaved)}, max ` +
        `${Math.max(...unsaved)}, total ${unsaved.reduce((a, b) => a + b, 0)} (per kill: ${unsaved.join(' ')})`,
    );
    console.log(
      `requests in flight at the endpoint per kill: median ${median(killed.kills.map((k) => k.inFlightAtKill))}, ` +
        `max ${Math.max(...killed.kills.map((k) => k.inFlightAtKill))}`,
    );
  }
  console.log(`ratio wall time killed/unkilled: ${(killed.wallSeconds / unkilled.wallSeconds).toFixed(2)}`);

  // What must hold: nothing lost or doubled, every served request in the ledger, each paid twice counted.
  const problems: string[] = [];
  for (const [name, o] of [
    ['unkilled', unkilled],
    ['killed', killed],
  ] as const) {
    if (lost(o) !== 0 || o.check.missing !== 0 || o.check.duplicated !== 0)
      problems.push(`${name}: samples lost or doubled`);
    if (o.check.leftoverLogs !== 0) problems.push(`${name}: unfinished batch logs left behind`);
    // Every request the endpoint received beyond the plan may have been billed: each must be counted.
    if (repaid(o) < o.stats.received - plannedRequests(o)) {
      problems.push(
        `${name}: the endpoint received ${o.stats.received - plannedRequests(o)} requests beyond the plan, ` +
          `the ledger counts ${repaid(o)} re-paid`,
      );
    }
    if (ledgerRequests(o) !== plannedRequests(o))
      problems.push(`${name}: ledger has ${ledgerRequests(o)} requests, plan ${plannedRequests(o)}`);
  }
  if (killed.kills.length < kills)
    problems.push(`only ${killed.kills.length} of ${kills} kills landed before the end`);
  for (const problem of problems) console.error(`FAILED: ${problem}`);
  failed = problems.length > 0;
} finally {
  for (const child of children) child.kill('SIGKILL');
  await connection.close();
  process.kill(temporal.pid, 'SIGTERM');
  await rm(dir, { recursive: true, force: true });
}
process.exit(failed ? 1 : 0);
