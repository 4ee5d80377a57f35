// Scale benchmark: the full experiment (prepare, sampling, verify, analyse, datasets, report; no finetuning)
// against the scripted server answering instantly with ~600-character answers, at several sizes. The worker
// runs in its own process so its peak RSS (VmHWM) is its own. Prints per size: wall time per stage,
// completions/s, peak worker RSS, history events per workflow, and each stage's time against linear
// scaling from the smallest size (1.00 = linear; 2.00 = twice the linear time).
//
//   npm run bench:scale -- [--sizes 100000,1000000] [--samples-per-question 10] [--concurrency 64]
//                          [--batch-size 64]
import { Client, Connection } from '@temporalio/client';
import { spawn } from 'node:child_process';
import { mkdir, mkdtemp, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { parseArgs } from 'node:util';
import { prepareRun } from '../../activities/prepare.js';
import { validateConfig, type ExperimentConfig } from '../../core/config.js';
import { answerScript, goldTable, startScriptedServer } from '../../test/support/scripted-server.js';
import { writeProblems } from '../../test/support/problem-files.js';
import { ensureDevServer } from '../../workers/temporal-cli.js';
import { experimentWorkflow } from '../../workflows/experiment.js';

const { values } = parseArgs({
  options: {
    sizes: { type: 'string', default: '100000,1000000' },
    'samples-per-question': { type: 'string', default: '10' },
    concurrency: { type: 'string', default: '64' },
    'batch-size': { type: 'string', default: '64' },
    'reasoning-words': { type: 'string', default: '95' },
  },
});
const sizes = values.sizes.split(',').map(Number);
const samplesPerQuestion = Number(values['samples-per-question']);
const concurrency = Number(values.concurrency);
const batchSize = Number(values['batch-size']);

const dir = await mkdtemp(path.join(os.tmpdir(), 'wcse-bench-scale-'));
const temporal = await ensureDevServer({
  stateDir: path.join(dir, 'temporal'),
  detached: false,
  headless: true,
});
const connection = await Connection.connect({ address: temporal.address });
const client = new Client({ connection });

function configFor(problemsPath: string, baseURL: string): ExperimentConfig {
  const model = (name: string, params: number) => ({
    model: name,
    baseURL,
    params,
    apiKeyEnv: 'WCSE_BENCH_API_KEY',
    concurrency,
    sampling: { temperature: 0.7, maxTokens: 256 },
  });
  return validateConfig(
    {
      name: 'bench-scale',
      problems: {
        path: problemsPath,
        kind: 'generic',
        fields: { question: 'question', answer: 'answer', id: 'id' },
      },
      models: { wc: model('weak', 9e9), se: model('strong', 27e9) },
      budget: { mode: 'ratio', samplesPerQuestion },
      sampling: { batchSize },
    },
    'bench-scale',
  );
}
process.env.WCSE_BENCH_API_KEY = 'sk-bench';

/** Completions per question of the plan (both sources), from a plan for a tiny problem set. */
async function completionsPerQuestion(): Promise<number> {
  const probe = path.join(dir, 'probe');
  await mkdir(probe, { recursive: true });
  await writeProblems(probe, 10);
  const prepared = await prepareRun({
    runDir: path.join(probe, 'run'),
    config: configFor(path.join(probe, 'problems.jsonl'), 'http://127.0.0.1:9'),
  });
  return prepared.plan.wc.samplesPerQuestion + prepared.plan.se.samplesPerQuestion;
}

async function peakRss(pid: number): Promise<number> {
  const status = await readFile(`/proc/${pid}/status`, 'utf8');
  return Number(/VmHWM:\s+(\d+) kB/.exec(status)![1]) * 1024;
}

interface Row {
  size: number;
  completions: number;
  questions: number;
  stages: Record<string, number>;
  /** The largest worker RSS sampled (once a second) during each stage. */
  stageRss: Record<string, number>;
  totalSeconds: number;
  peakRssBytes: number;
  events: Record<string, string>;
}

async function historyEvents(workflowId: string): Promise<string> {
  const counts: number[] = [];
  for await (const execution of client.workflow.list({ query: `WorkflowId = '${workflowId}'` })) {
    counts.push(execution.historyLength);
  }
  const max = counts.reduce((a, b) => Math.max(a, b), 0);
  return counts.length > 1 ? `${max} max over ${counts.length} runs` : `${max}`;
}

async function runSize(size: number, perQuestion: number): Promise<Row> {
  const questions = Math.ceil(size / perQuestion);
  const sizeDir = path.join(dir, `size-${size}`);
  await mkdir(sizeDir, { recursive: true });
  const { gold } = await writeProblems(sizeDir, questions);
  const script = () =>
    answerScript({
      gold: goldTable(gold),
      correctFraction: 0.6,
      reasoningWords: Number(values['reasoning-words']),
    });
  const server = await startScriptedServer({ models: { weak: script(), strong: script() } });
  const config = configFor(path.join(sizeDir, 'problems.jsonl'), server.baseURL);
  const taskQueue = `bench-scale-${size}`;
  const worker = spawn(process.execPath, ['--import', 'tsx', 'test/support/worker-process.ts'], {
    env: { ...process.env, WCSE_TEST_TEMPORAL_ADDRESS: temporal.address, WCSE_TEST_TASK_QUEUE: taskQueue },
    // Its stderr is shown only if it fails to start (stopping it with SIGTERM ends runUntil with an error).
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stderr = '';
  worker.stderr!.on('data', (chunk: Buffer) => (stderr = (stderr + chunk.toString()).slice(-4000)));
  await new Promise<void>((resolve, reject) => {
    worker.once('exit', (code) =>
      reject(new Error(`worker exited (${code}) before it was ready: ${stderr}`)),
    );
    createInterface({ input: worker.stdout! }).on('line', (line) => {
      if (line.trim() === 'ready') resolve();
    });
  });
  const workflowId = `bench-scale-${size}-${Date.now().toString(36)}`;
  const started = performance.now();
  let peak = 0;
  // The worker's RSS once a second, to attribute the peak to stages afterwards.
  const rssSeen: Array<{ at: number; bytes: number }> = [];
  const sampler = setInterval(() => {
    peakRss(worker.pid!).then(
      (bytes) => (peak = Math.max(peak, bytes)),
      () => undefined,
    );
    readFile(`/proc/${worker.pid}/status`, 'utf8').then(
      (status) =>
        rssSeen.push({ at: Date.now(), bytes: Number(/VmRSS:\s+(\d+) kB/.exec(status)![1]) * 1024 }),
      () => undefined,
    );
  }, 1000);
  try {
    const result = await client.workflow.execute(experimentWorkflow, {
      taskQueue,
      workflowId,
      args: [{ experimentId: workflowId, runDir: path.join(sizeDir, 'run'), config }],
    });
    const totalSeconds = (performance.now() - started) / 1000;
    peak = Math.max(peak, await peakRss(worker.pid!));
    // Stage walls from the experiment's history: each activity type's first schedule to last completion,
    // sampling from the first child started to the last one closed.
    const history = await client.workflow.getHandle(workflowId).fetchHistory();
    const scheduled = new Map<string, { type: string; at: number }>();
    const spans = new Map<string, { from: number; to: number }>();
    const children: string[] = [];
    const widen = (name: string, from: number, to: number) => {
      const span = spans.get(name);
      spans.set(name, { from: Math.min(span?.from ?? from, from), to: Math.max(span?.to ?? to, to) });
    };
    const at = (event: { eventTime?: { seconds?: unknown; nanos?: number | null } | null }) =>
      Number(event.eventTime!.seconds) * 1000 + (event.eventTime!.nanos ?? 0) / 1e6;
    for (const event of history.events ?? []) {
      const time = at(event);
      if (event.activityTaskScheduledEventAttributes) {
        scheduled.set(String(event.eventId), {
          type: event.activityTaskScheduledEventAttributes.activityType!.name!,
          at: time,
        });
      }
      const completed = event.activityTaskCompletedEventAttributes;
      if (completed) {
        const start = scheduled.get(String(completed.scheduledEventId))!;
        widen(start.type, start.at, time);
      }
      const child = event.startChildWorkflowExecutionInitiatedEventAttributes;
      if (child) {
        widen('sampling', time, time);
        children.push(child.workflowId!);
      }
      if (event.childWorkflowExecutionCompletedEventAttributes) widen('sampling', time, time);
    }
    const stages: Record<string, number> = {};
    const stageRss: Record<string, number> = {};
    for (const [name, span] of spans) {
      stages[name] = (span.to - span.from) / 1000;
      stageRss[name] = rssSeen
        .filter((s) => s.at >= span.from && s.at <= span.to + 1000)
        .reduce((max, s) => Math.max(max, s.bytes), 0);
    }
    const events: Record<string, string> = { experiment: await historyEvents(workflowId) };
    for (const child of children) events[child.split('/').at(-1)!] = await historyEvents(child);
    const completions = result.sampling.wc.ledger.samples + result.sampling.se.ledger.samples;
    return { size, completions, questions, stages, stageRss, totalSeconds, peakRssBytes: peak, events };
  } finally {
    clearInterval(sampler);
    worker.kill('SIGTERM');
    await server.close();
  }
}

const rows: Row[] = [];
try {
  const perQuestion = await completionsPerQuestion();
  for (const size of sizes) {
    console.log(
      `running ${size} completions (${Math.ceil(size / perQuestion)} questions x ${perQuestion}) ...`,
    );
    const row = await runSize(size, perQuestion);
    rows.push(row);
    const base = rows[0];
    const mib = (bytes: number) => `${(bytes / 2 ** 20).toFixed(0)} MiB`;
    console.log(`\n## ${row.completions} completions (${row.questions} questions)`);
    console.log(`| stage | wall s | x linear from ${base.completions} | worker RSS max in stage |`);
    console.log('|---|---|---|---|');
    const scale = row.completions / base.completions;
    for (const [stage, seconds] of Object.entries(row.stages)) {
      const ratio = base.stages[stage] ? seconds / (base.stages[stage] * scale) : NaN;
      console.log(
        `| ${stage} | ${seconds.toFixed(1)} | ${Number.isNaN(ratio) ? '-' : ratio.toFixed(2)} | ` +
          `${row.stageRss[stage] ? mib(row.stageRss[stage]) : '-'} |`,
      );
    }
    console.log(
      `| total | ${row.totalSeconds.toFixed(1)} | ${(row.totalSeconds / (base.totalSeconds * scale)).toFixed(2)} |`,
    );
    console.log(`completions/s (whole experiment): ${(row.completions / row.totalSeconds).toFixed(0)}`);
    if (row.stages.sampling)
      console.log(`completions/s (sampling): ${(row.completions / row.stages.sampling).toFixed(0)}`);
    console.log(`peak worker RSS: ${mib(row.peakRssBytes)}`);
    console.log(
      `history events: ${Object.entries(row.events)
        .map(([k, v]) => `${k} ${v}`)
        .join('; ')}`,
    );
    console.log(
      `load average: ${os
        .loadavg()
        .map((x) => x.toFixed(2))
        .join(', ')} (${os.cpus().length} CPUs)`,
    );
  }
} finally {
  await connection.close();
  process.kill(temporal.pid, 'SIGTERM');
  await rm(dir, { recursive: true, force: true });
}
