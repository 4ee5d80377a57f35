// Worker pools by role: three `wcse worker --roles ...` processes against one Temporal server, each polling
// only its roles' task queues (temporal.taskQueues): workflows and run-directory work, WC sampling, SE
// sampling. The WC sampling worker is SIGKILLed mid-run and started again; the experiment completes, and
// the endpoint serves exactly the planned requests: no sample is paid twice. `wcse status` names the
// queues no worker polls.
import type { Client } from '@temporalio/client';
import { describe, expect, it } from 'vitest';
import { inject } from 'vitest';
import { spawn, type ChildProcess } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { queuesWithoutPoller } from '../cli/control.js';
import { openStore, readJson, readLog, type ArtifactStore } from '../activities/store.js';
import { batchFiles, isBatchMetaKey, REPORT_MD_KEY } from '../core/layout.js';
import type { Ledger } from '../core/records.js';
import { useS3Server } from './support/s3-server.js';
import { experimentWorkflow } from '../workflows/experiment.js';
import {
  problemsBlock,
  scriptedStudyForTest,
  testConfig,
  uniqueId,
  useTemporal,
  wcSeModels,
  weakAndStrong,
} from './support/harness.js';

process.env.WCSE_TEST_API_KEY = 'sk-test-multi-worker';

/** `wcse worker --config <file> --roles <roles>` against the test server, once it polls. */
async function roleWorker(config: string, roles: string): Promise<ChildProcess> {
  const child = spawn(process.execPath, ['bin/wcse.js', 'worker', '--config', config, '--roles', roles], {
    env: { ...process.env, TEMPORAL_ADDRESS: inject('temporalAddress') },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let stderr = '';
  await new Promise<void>((resolve, reject) => {
    child.once('exit', (code) =>
      reject(new Error(`wcse worker --roles ${roles} exited with ${code}: ${stderr}`)),
    );
    child.stderr!.on('data', (chunk: Buffer) => {
      stderr += chunk.toString();
      if (/task queue .*: /.test(stderr)) resolve();
    });
  });
  return child;
}

async function kill(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((resolve) => child.once('exit', resolve));
  child.kill('SIGKILL');
  await exited;
}

/** Responses saved in the store: finished batches (meta) plus saved parts of unfinished ones' logs. */
async function persistedRequests(store: ArtifactStore): Promise<number> {
  let total = 0;
  for (const source of ['wc', 'se']) {
    for (const round of await store.list(`samples/${source}`)) {
      const keys = await store.list(round);
      for (const key of keys) {
        if (isBatchMetaKey(key)) {
          total += (await readJson<{ ledger: Ledger }>(store, key))!.ledger.requests;
        } else if (key.endsWith('.parts.jsonl')) {
          const batch = key.slice(0, -'.parts.jsonl'.length);
          if (!keys.includes(batchFiles(batch).meta)) total += (await readLog(store, key)).length;
        }
      }
    }
  }
  return total;
}

const BUCKET = 'wcse-multi-worker';

describe('three workers by role, one killed mid-run', () => {
  const temporal = useTemporal();

  it('completes with every planned request served once, on a local run directory', async () => {
    await threeWorkers(temporal.client, (dir) => path.join(dir, 'run'));
  });

  describe('on an S3 run location', () => {
    useS3Server(BUCKET);

    it('completes with every planned request served once, every artifact in the bucket', async () => {
      await threeWorkers(temporal.client, (_, id) => `s3://${BUCKET}/runs/${id}`);
    });
  });
});

/** The experiment on three role workers, the WC sampling one killed mid-run; `location` names its run directory. */
async function threeWorkers(
  client: Client,
  location: (dir: string, workflowId: string) => string,
): Promise<void> {
  const questions = 16;
  // One request per sample (supportsN false): many are in flight when the worker dies.
  const study = await scriptedStudyForTest({
    name: 'multi-worker',
    questions,
    models: weakAndStrong({ supportsN: false }),
  });
  const { server, dir } = study;
  const planned = { weak: questions * 4, strong: questions * 2 };
  const queue = uniqueId('tq-multi');
  const raw = {
    name: 'multi-worker',
    problems: problemsBlock(study.problemsFile),
    models: wcSeModels(server.baseURL, { wc: 1e9, se: 2e9 }, { supportsN: false, concurrency: 4 }),
    budget: { mode: 'ratio', samplesPerQuestion: 2 },
    sampling: { batchSize: 4 },
    temporal: {
      taskQueue: queue,
      heartbeatTimeoutSeconds: 3,
      taskQueues: {
        sampling: { wc: `${queue}-sample-wc`, se: `${queue}-sample-se` },
        cpu: `${queue}-cpu`,
        // No judge and no finetuning here: nothing is scheduled on these, and no worker polls them.
        eval: `${queue}-eval`,
        finetune: `${queue}-finetune`,
      },
    },
  };
  const configFile = path.join(dir, 'experiment.json');
  await writeFile(configFile, JSON.stringify(raw));
  const config = testConfig(raw);
  const workflowId = uniqueId('exp-multi');
  const runDir = location(dir, workflowId);
  const store = openStore(runDir);

  server.holdAfter(20);
  const workers: ChildProcess[] = [];
  try {
    const t0 = Date.now();
    const at = (what: string) => console.log(`${((Date.now() - t0) / 1000).toFixed(1)} s: ${what}`);
    const starting = await Promise.allSettled(
      ['workflow,cpu', 'sampling:se', 'sampling:wc'].map((roles) => roleWorker(configFile, roles)),
    );
    for (const s of starting) if (s.status === 'fulfilled') workers.push(s.value);
    for (const s of starting) if (s.status === 'rejected') throw s.reason;
    let wc = workers[2];
    at('three workers poll');
    const handle = await client.workflow.start(experimentWorkflow, {
      taskQueue: queue,
      workflowId,
      args: [{ experimentId: workflowId, runDir, config }],
    });

    // `wcse status`: the queues of roles no worker runs are named, those of running ones are not.
    const unpolled = await queuesWithoutPoller(client, workflowId);
    expect(unpolled.map((q) => q.taskQueue).sort()).toEqual([`${queue}-eval`, `${queue}-finetune`]);
    expect(unpolled.map((q) => q.kind)).toEqual(['activity', 'activity']);

    at('experiment started');
    await server.waitForServed(20, 60_000);
    at('served 20');
    await server.waitForHeld(2, 60_000);
    // Kill the WC sampling worker once every served response is saved (a response received and not yet
    // written is lost with any worker: the durability test measures what the design guarantees).
    const deadline = Date.now() + 20_000;
    const saved = () => persistedRequests(store);
    while ((await saved()) !== 20) {
      if (Date.now() > deadline) throw new Error(`responses saved: ${await saved()} of 20`);
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    const held = server.stats.held;
    const aborted = server.stats.aborted;
    await kill(wc);
    // The dead worker's held requests end as aborted (the OS closes its sockets) before the rest are
    // released: released first, they would be written to a dead socket and counted as served.
    await server.waitFor((s) => s.aborted > aborted, 10_000, "the dead worker's held requests aborted");
    await new Promise((resolve) => setTimeout(resolve, 1_000));
    server.release();
    // The SE worker goes on meanwhile; a new WC worker takes over the dead one's batches (heartbeat timeout).
    wc = await roleWorker(configFile, 'sampling:wc');
    workers.push(wc);

    at('killed and restarted');
    const result = await handle.result();
    at('completed');
    expect(held).toBeGreaterThanOrEqual(2);
    expect(server.stats.perModel.weak.served).toBe(planned.weak);
    expect(server.stats.perModel.strong.served).toBe(planned.strong);
    for (const [source, name] of [
      ['wc', 'weak'],
      ['se', 'strong'],
    ] as const) {
      const ledger = result.sampling[source].ledger;
      expect(ledger.requests).toBe(planned[name]);
      expect(ledger.completionTokens).toBe(server.stats.perModel[name].completionTokens);
    }
    expect(result.verify.wc.samples).toBe(questions * 4);
    expect(result.verify.se.samples).toBe(questions * 2);
    expect(result.runDir).toBe(runDir);
    expect(await store.exists(REPORT_MD_KEY)).toBe(true);
  } finally {
    for (const worker of workers) await kill(worker);
  }
}
