// Sampling-stage overhead: wcse's sampling workflow (Temporal + activities + per-response persistence)
// against a bare `openai` client loop at the same concurrency, both against the scripted zero-latency
// server, in the same run. Prints completions/second for each, the CPU time per completion, and the ratio of
// the medians (target >= 0.95 on a quiet machine, issue 12).
//
//   npm run bench:sampling -- [--completions 10000] [--concurrency 32] [--batch-size 32] [--n 1] [--repeat 3]
//                             [--only bare|wcse]   (one side alone, e.g. under `node --cpu-prof --import tsx`)
import { Client, Connection } from '@temporalio/client';
import { DefaultLogger, NativeConnection, Runtime } from '@temporalio/worker';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import OpenAI from 'openai';
import { validateConfig } from '../../core/config.js';
import { buildMessages } from '../../core/prompt.js';
import { answerScript, goldTable, startScriptedServer } from '../../test/support/scripted-server.js';
import { prepareRun } from '../../activities/prepare.js';
import { writeProblems } from '../../test/support/problem-files.js';
import { ensureDevServer } from '../../workers/temporal-cli.js';
import { createWorker } from '../../workers/worker.js';
import { samplingWorkflow } from '../../workflows/sampling.js';

const { values } = parseArgs({
  options: {
    completions: { type: 'string', default: '10000' },
    concurrency: { type: 'string', default: '32' },
    'batch-size': { type: 'string', default: '32' },
    n: { type: 'string', default: '1' },
    repeat: { type: 'string', default: '3' },
    /** Run one side only ('bare' or 'wcse'), e.g. under `node --cpu-prof` to profile it alone. */
    only: { type: 'string' },
  },
});
const only = values.only;
if (only !== undefined && only !== 'bare' && only !== 'wcse') {
  throw new Error(`--only ${only}: expected bare or wcse`);
}
const repeat = Number(values.repeat);
const completions = Number(values.completions);
const concurrency = Number(values.concurrency);
const batchSize = Number(values['batch-size']);
const perRequest = Number(values.n);
const samplesPerQuestion = 10;
const questions = Math.ceil(completions / samplesPerQuestion);

Runtime.install({ logger: new DefaultLogger('WARN') });
const dir = await mkdtemp(path.join(os.tmpdir(), 'wcse-bench-sampling-'));
const { gold } = await writeProblems(dir, questions);
const server = await startScriptedServer({
  models: { bench: answerScript({ gold: goldTable(gold), correctFraction: 0.5, supportsN: perRequest > 1 }) },
});
const config = validateConfig(
  {
    name: 'bench',
    problems: {
      path: path.join(dir, 'problems.jsonl'),
      kind: 'generic',
      fields: { question: 'question', answer: 'answer', id: 'id' },
    },
    models: {
      wc: {
        model: 'bench',
        baseURL: server.baseURL,
        params: 1e9,
        concurrency,
        supportsN: perRequest > 1,
        maxN: Math.max(1, perRequest),
        sampling: { maxTokens: 64 },
      },
      se: { model: 'bench', baseURL: server.baseURL, params: 1e9 },
    },
    budget: { mode: 'ratio', samplesPerQuestion },
    sampling: { batchSize },
  },
  'bench',
);

// Anchor: the same requests from a bare openai client loop at the same concurrency.
async function bareLoop(): Promise<number> {
  const client = new OpenAI({ baseURL: server.baseURL, apiKey: 'bench', maxRetries: 0 });
  const requests: Array<{ question: string; n: number }> = [];
  for (let i = 1; i <= questions; i++) {
    for (let left = samplesPerQuestion; left > 0; left -= perRequest) {
      requests.push({ question: `Q${i}: what is ${i} + ${i}?`, n: Math.min(perRequest, left) });
    }
  }
  let next = 0;
  let received = 0;
  const started = performance.now();
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < requests.length) {
        const request = requests[next++];
        const response = await client.chat.completions.create({
          model: 'bench',
          messages: buildMessages(config.models.wc.prompt, request.question),
          max_tokens: 64,
          ...(request.n > 1 ? { n: request.n } : {}),
        });
        received += response.choices.length;
      }
    }),
  );
  const seconds = (performance.now() - started) / 1000;
  if (received !== questions * samplesPerQuestion) throw new Error(`bare loop got ${received} completions`);
  return received / seconds;
}

/** One dev server and worker for all repetitions; each repetition samples into a fresh run directory. */
async function withWcse<T>(
  use: (sampleOnce: (runIndex: number) => Promise<number>) => Promise<T>,
): Promise<T> {
  const temporal = await ensureDevServer({
    stateDir: path.join(dir, 'temporal'),
    detached: false,
    headless: true,
  });
  const nativeConnection = await NativeConnection.connect({ address: temporal.address });
  const worker = await createWorker({
    connection: nativeConnection,
    namespace: 'default',
    taskQueue: 'bench',
  });
  const connection = await Connection.connect({ address: temporal.address });
  const client = new Client({ connection });
  const sampleOnce = async (runIndex: number) => {
    const runDir = path.join(dir, `run-${runIndex}`);
    const prepared = await prepareRun({ runDir, config });
    const started = performance.now();
    const result = await client.workflow.execute(samplingWorkflow, {
      taskQueue: 'bench',
      workflowId: `bench-sampling-${runIndex}`,
      args: [
        {
          runDir,
          source: 'wc',
          model: config.models.wc,
          budget: config.budget,
          plan: prepared.plan.wc,
          questions: prepared.questions,
          batchSize,
          heartbeatTimeoutSeconds: 60,
          promptTokensUpperBoundSum: prepared.promptTokensUpperBoundSum.wc,
        },
      ],
    });
    const seconds = (performance.now() - started) / 1000;
    if (result.ledger.samples !== questions * samplesPerQuestion) {
      throw new Error(`wcse drew ${result.ledger.samples} completions`);
    }
    return result.ledger.samples / seconds;
  };
  try {
    return await worker.runUntil(() => use(sampleOnce));
  } finally {
    await connection.close();
    await nativeConnection.close();
    process.kill(temporal.pid, 'SIGTERM');
  }
}

const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)];
const total = questions * samplesPerQuestion;
console.log(
  `sampling overhead: ${total} completions, concurrency ${concurrency}, n per request ${perRequest}, ` +
    `batch ${batchSize} questions, ${repeat} alternating repetitions (median)`,
);
// Alternate the two so that warm-up and machine noise fall on both alike. Besides the rate, the CPU time this
// process used per 1,000 completions (the scripted server's share included, the same on both sides): on a
// loaded machine it moves less than wall time does.
const bare: number[] = [];
const wcse: number[] = [];
const bareCpu: number[] = [];
const wcseCpu: number[] = [];
const measured = async (run: () => Promise<number>, rates: number[], cpu: number[]) => {
  const before = process.cpuUsage();
  rates.push(await run());
  const used = process.cpuUsage(before);
  cpu.push((used.user + used.system) / 1000 / (total / 1000));
};
await withWcse(async (sampleOnce) => {
  for (let i = 0; i < repeat; i++) {
    if (only !== 'wcse') await measured(bareLoop, bare, bareCpu);
    if (only !== 'bare') await measured(() => sampleOnce(i), wcse, wcseCpu);
  }
});
const show = (xs: number[]) => xs.map((x) => x.toFixed(0)).join(', ');
const line = (label: string, rates: number[], cpu: number[]) =>
  console.log(
    `${label}: ${median(rates).toFixed(0)} completions/s  (runs: ${show(rates)}); ` +
      `CPU ${median(cpu).toFixed(0)} ms per 1k completions (runs: ${show(cpu)})`,
  );
if (bare.length) line('bare openai loop', bare, bareCpu);
if (wcse.length) line('wcse sampling   ', wcse, wcseCpu);
if (!only) {
  console.log(`ratio wcse/bare  : ${(median(wcse) / median(bare)).toFixed(2)} (medians of completions/s)`);
  console.log(
    `CPU  bare/wcse   : ${(median(bareCpu) / median(wcseCpu)).toFixed(2)} (medians of CPU per completion)`,
  );
}
console.log(
  `load average     : ${os
    .loadavg()
    .map((x) => x.toFixed(2))
    .join(', ')} (${os.cpus().length} CPUs)`,
);
await server.close();
await rm(dir, { recursive: true, force: true });
