// Records workflow histories for the replay test: `npm run record-histories -- v<N>`. Record a new version
// whenever workflow code changes (patched() or not) and keep the old fixtures: every version must replay,
// since runs started by older code may still be open. v1: the first release. v2: stages split, matched
// training steps, model selection (2 learning rates x 2 checkpoints on held-out questions), maj@k
// evaluation, the flops-mode top-up (equal spend) and the patches of those changes.
import { Client, Connection } from '@temporalio/client';
import { historyToJSON } from '@temporalio/common/lib/proto-utils.js';
import { DefaultLogger, NativeConnection, Runtime } from '@temporalio/worker';
import { mkdir, mkdtemp, readFile, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { validateConfig } from '../../core/config.js';
import { ensureDevServer } from '../../workers/temporal-cli.js';
import { createWorker } from '../../workers/worker.js';
import { experimentWorkflow } from '../../workflows/experiment.js';
import { reverifyWorkflow } from '../../workflows/reverify.js';
import { answerScript, goldTable, startScriptedServer } from './scripted-server.js';

Runtime.install({ logger: new DefaultLogger('WARN') });
const version = process.argv[2] ?? 'v1';
const dir = await mkdtemp(path.join(os.tmpdir(), 'wcse-record-'));
const server = await ensureDevServer({
  stateDir: path.join(dir, 'temporal'),
  detached: false,
  headless: true,
});
try {
  const gold: Record<string, string> = {};
  const lines: string[] = [];
  // v1 recorded 6 questions; later versions hold 2 more out for model selection.
  const questions = version === 'v1' ? 6 : 8;
  for (let i = 1; i <= questions; i++) {
    const question = `Q${i}: what is ${i} + ${i}?`;
    gold[question] = String(2 * i);
    lines.push(JSON.stringify({ id: `q${i}`, question, answer: String(2 * i) }));
  }
  await writeFile(path.join(dir, 'problems.jsonl'), lines.join('\n') + '\n');
  const testLines: string[] = [];
  for (let i = 1; i <= 4; i++) {
    const question = `T${i}: what is ${i} times 3?`;
    gold[question] = String(3 * i);
    testLines.push(JSON.stringify({ id: `t${i}`, question, answer: String(3 * i) }));
  }
  await writeFile(path.join(dir, 'test.jsonl'), testLines.join('\n') + '\n');
  const endpoint = await startScriptedServer({
    models: {
      weak: answerScript({ gold: goldTable(gold), correctFraction: 0.5 }),
      strong: answerScript({ gold: goldTable(gold), correctFraction: 1, variants: 1 }),
      student: answerScript({ gold: goldTable(gold), correctFraction: 0.25 }),
    },
    fineTuning: { durationMs: 300 },
  });
  const model = (name: string, params: number) => ({
    model: name,
    baseURL: endpoint.baseURL,
    params,
    concurrency: 2,
    sampling: { maxTokens: 64 },
  });
  const config = validateConfig(
    {
      name: 'replay',
      problems: {
        path: path.join(dir, 'problems.jsonl'),
        kind: 'generic',
        fields: { question: 'question', answer: 'answer', id: 'id' },
        ...(version === 'v1' ? {} : { holdOut: 2, seed: 1 }),
      },
      models: { wc: model('weak', 1e9), se: model('strong', 2e9), student: model('student', 0.5e9) },
      budget: { mode: 'flops', flopsPerSource: 2 * 2e9 * 64 * 6 * 2.5, expectedTokensPerSample: 40 },
      sampling: { batchSize: 2 },
      datasets: { validationFraction: 0.2 },
      finetune:
        version === 'v1'
          ? {
              hyperparameters: { epochs: 1 },
              pollIntervalSeconds: 1,
              setups: { student: true, wc: true, se: false },
            }
          : {
              steps: 4,
              batchSize: 2,
              learningRates: [1e-5, 2e-5],
              checkpoints: 2,
              pollIntervalSeconds: 1,
              setups: { student: true, wc: true, se: false },
            },
      evaluation: {
        problems: {
          path: path.join(dir, 'test.jsonl'),
          kind: 'generic',
          fields: { question: 'question', answer: 'answer', id: 'id' },
        },
        samples: 2,
        temperature: 0.5,
        ...(version === 'v1' ? {} : { majority: { k: [1, 2], samples: 2 } }),
      },
    },
    'replay',
  );
  const nativeConnection = await NativeConnection.connect({ address: server.address });
  const worker = await createWorker({
    connection: nativeConnection,
    namespace: 'default',
    taskQueue: 'record',
  });
  const connection = await Connection.connect({ address: server.address });
  const client = new Client({ connection });
  const workflowId = 'replay-experiment';
  // One worker run for both workflows: a worker cannot be started twice.
  const result = await worker.runUntil(async () => {
    const experiment = await client.workflow.execute(experimentWorkflow, {
      taskQueue: 'record',
      workflowId,
      args: [{ experimentId: workflowId, runDir: path.join(dir, 'run'), config }],
    });
    await client.workflow.execute(reverifyWorkflow, {
      taskQueue: 'record',
      workflowId: `${workflowId}/reverify`,
      args: [{ runDir: path.join(dir, 'run'), format: 'gsm8k', heartbeatTimeoutSeconds: 60 }],
    });
    return experiment;
  });
  const out = path.resolve('test/fixtures/histories');
  await mkdir(out, { recursive: true });
  const indexFile = path.join(out, 'index.json');
  const index = JSON.parse(await readFile(indexFile, 'utf8').catch(() => '{}')) as Record<string, string>;
  for (const [name, id] of [
    ['experiment', workflowId],
    ['sampling-wc', result.childWorkflowIds.find((id) => id.includes('/sample-wc'))!],
    ['finetune-wc', result.childWorkflowIds.find((id) => id.includes('/finetune-wc'))!],
    ['reverify', `${workflowId}/reverify`],
  ]) {
    const history = await client.workflow.getHandle(id).fetchHistory();
    await writeFile(path.join(out, `${name}-${version}.json`), historyToJSON(history));
    index[`${name}-${version}.json`] = id;
    console.log(`wrote ${name}-${version}.json (${history.events?.length} events)`);
  }
  // Replay needs each history's original workflow id (child ids derive from it).
  await writeFile(indexFile, JSON.stringify(index, null, 2) + '\n');
  await connection.close();
  await nativeConnection.close();
  await endpoint.close();
} finally {
  // The dev server is ours alone: stop it even when recording fails.
  process.kill(server.pid, 'SIGTERM');
}
