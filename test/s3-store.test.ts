// An experiment whose run directory is an S3 location (`s3://bucket/prefix`, activities/store-s3.ts) against
// a real S3-protocol server on 127.0.0.1: a worker killed (SIGKILL) in the middle of sampling, a new worker
// finishing it, the endpoint billing exactly the planned requests (no response paid twice), and every
// artifact in the bucket, none on local disk.
import { ListObjectsV2Command } from '@aws-sdk/client-s3';
import { existsSync } from 'node:fs';
import { readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { openStore, readJson, readLog, type ArtifactStore } from '../activities/store.js';
import { batchFiles, isBatchMetaKey, REPORT_MD_KEY } from '../core/layout.js';
import type { Ledger } from '../core/records.js';
import { experimentWorkflow } from '../workflows/experiment.js';
import { loadConfigFile } from '../cli/config-file.js';
import {
  crashStudy,
  startWorker,
  tempDir,
  uniqueId,
  useTemporal,
  workerProcessForTest,
} from './support/harness.js';
import { useS3Server } from './support/s3-server.js';

process.env.WCSE_TEST_API_KEY = 'sk-test-s3-store';

const BUCKET = 'wcse-runs';

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

async function waitUntil(predicate: () => Promise<boolean>, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await predicate())) {
    if (Date.now() > deadline) throw new Error('condition not reached in time');
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

describe('an experiment on an S3 run location', () => {
  const s3 = useS3Server(BUCKET);
  const temporal = useTemporal();

  it('survives a worker killed mid-batch with no sample paid twice, every artifact in the bucket', async () => {
    const questions = 16;
    const { server, config } = await crashStudy('s3-crash', questions, { wc: 1e9, se: 2e9 });
    const planned = { weak: questions * 4, strong: questions * 2 };
    const taskQueue = uniqueId('tq-s3-crash');
    const workflowId = uniqueId('exp-s3-crash');
    const runDir = `s3://${BUCKET}/runs/${workflowId}`;
    const store = openStore(runDir);

    server.holdAfter(30);
    // The worker process reads the S3 endpoint and credentials from the environment it inherits.
    const first = await workerProcessForTest(taskQueue);
    const handle = await temporal.client.workflow.start(experimentWorkflow, {
      taskQueue,
      workflowId,
      args: [{ experimentId: workflowId, runDir, config }],
    });
    await server.waitForServed(30, 60_000);
    await server.waitForHeld(2, 60_000);
    // Killed mid-batch: its parts logs are in the bucket, numbered part objects, as the worker left them.
    // Waiting until all 30 served responses are stored measures what the design guarantees (a response
    // received but not yet written dies with its worker on any system).
    await waitUntil(async () => (await persistedRequests(store)) === 30, 20_000);
    const partObjects = await s3.client.send(
      new ListObjectsV2Command({ Bucket: BUCKET, Prefix: `runs/${workflowId}/samples/` }),
    );
    expect(
      (partObjects.Contents ?? []).some((object) => /\.parts\.jsonl\/part-\d{10}-/.test(object.Key!)),
    ).toBe(true);
    await first.kill();
    await server.waitFor((s) => s.held === 0, 10_000, 'held requests aborted by the dying worker');
    server.release();

    const worker = await startWorker(taskQueue);
    try {
      const result = await handle.result();
      expect(result.runDir).toBe(runDir);
      // Exactly the planned requests reached the endpoint: the 30 saved before the kill were not bought again.
      expect(server.stats.perModel.weak.served).toBe(planned.weak);
      expect(server.stats.perModel.strong.served).toBe(planned.strong);
      for (const [source, name] of [
        ['wc', 'weak'],
        ['se', 'strong'],
      ] as const) {
        const ledger = result.sampling[source].ledger;
        expect(ledger.requests).toBe(planned[name]);
        expect(ledger.completionTokens).toBe(server.stats.perModel[name].completionTokens);
        // Sends aborted in flight by the kill are counted as re-paid; never more than the server received.
        expect(ledger.repaidRequests ?? 0).toBeLessThanOrEqual(
          server.stats.perModel[name].received - planned[name],
        );
      }
      expect(result.verify.wc.samples).toBe(questions * 4);
      expect(result.verify.wc.correct).toBe(questions * 2);
      expect(result.verify.se.samples).toBe(questions * 2);
      // Finished batches left no log behind, and the report is in the bucket.
      const all = await s3.client.send(
        new ListObjectsV2Command({ Bucket: BUCKET, Prefix: `runs/${workflowId}/` }),
      );
      const keys = (all.Contents ?? []).map((object) => object.Key!);
      expect(keys.filter((key) => key.includes('.parts.jsonl') || key.includes('.sent.jsonl'))).toEqual([]);
      expect(await store.exists(REPORT_MD_KEY)).toBe(true);
      // Nothing was written to a local directory named after the location.
      expect(existsSync(path.resolve('s3:'))).toBe(false);
    } finally {
      await worker.stop();
    }
  });

  it('keeps an s3:// runDir of a config file as written instead of resolving it as a local path', async () => {
    const dir = await tempDir('s3-config');
    const file = path.join(dir, 'study.yaml');
    const example = await readFile('examples/quickstart-tiny.yaml', 'utf8');
    await writeFile(file, `${example}\nrunDir: s3://${BUCKET}/studies/tiny/\n`);
    const loaded = await loadConfigFile(file, dir);
    expect(loaded.runDir).toBe(`s3://${BUCKET}/studies/tiny`);
    expect(loaded.config.runDir).toBe(loaded.runDir);
  });
});
