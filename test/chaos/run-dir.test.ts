// Chaos in a finished run directory, as an outside tester would make it (issue 13, items 3 and 4): a crash
// between a batch's meta.json and the removal of its response log, a truncated, a deleted and a corrupt
// batch artifact, a rejected config, a second experiment id on the same run directory, and a run
// directory that takes no writes. Each ends in a completed run or a named error, fast, never a silent loss
// or an hour of retries. Everything runs against the scripted server on 127.0.0.1.
import { createHash } from 'node:crypto';
import { appendFile, mkdir, readdir, readFile, rm, stat, truncate, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { describe, expect, inject, it, vi } from 'vitest';
import { statusCommand } from '../../cli/control.js';
import { runCommand } from '../../cli/run.js';
import { FailureType } from '../../core/failures.js';
import type { ExperimentConfig } from '../../core/config.js';
import { reverifyWorkflow } from '../../workflows/reverify.js';
import {
  model,
  problemsBlock,
  rootCauseMessage,
  rootFailureType,
  runExperiment,
  testConfig,
  uniqueId,
  useStudyFixture,
} from '../support/harness.js';

process.env.WCSE_TEST_API_KEY = 'sk-test-chaos-run-dir';

const QUESTIONS = 6;
/** A failure must be named within this long: no hour of retries. */
const FAST_MS = 30_000;

/** Every file under a directory with the sha256 of its content, for "nothing was written" checks. */
async function snapshot(dir: string): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  const walk = async (sub: string) => {
    for (const entry of await readdir(path.join(dir, sub), { withFileTypes: true })) {
      const rel = path.join(sub, entry.name);
      if (entry.isDirectory()) await walk(rel);
      else
        out[rel] = createHash('sha256')
          .update(await readFile(path.join(dir, rel)))
          .digest('hex');
    }
  };
  await walk('.');
  return out;
}

async function exists(file: string): Promise<boolean> {
  return stat(file).then(
    () => true,
    () => false,
  );
}

describe('a finished run directory damaged after the fact', () => {
  const fixture = useStudyFixture({ name: 'chaos-run-dir', questions: QUESTIONS });

  function config(overrides: Record<string, unknown> = {}): ExperimentConfig {
    const { server, problemsFile } = fixture;
    return testConfig({
      problems: problemsBlock(problemsFile),
      models: {
        // One request per sample: a batch of 3 questions costs 6 WC requests.
        wc: model(server.baseURL, 'weak', 9e9, { supportsN: false }),
        se: model(server.baseURL, 'strong', 27e9),
      },
      budget: { mode: 'ratio', samplesPerQuestion: 2 },
      sampling: { batchSize: 3 },
      datasets: { validationFraction: 0 },
      temporal: { heartbeatTimeoutSeconds: 5 },
      ...overrides,
    });
  }

  /** A completed experiment in its own run directory. */
  async function finishedRun(name: string) {
    const runDir = path.join(fixture.dir, name);
    const experimentId = uniqueId(`chaos-${name}`);
    const cfg = config();
    const result = await runExperiment(fixture.client, fixture.worker.taskQueue, {
      runDir,
      config: cfg,
      experimentId,
    });
    return { runDir, experimentId, config: cfg, result };
  }

  function reverify(runDir: string) {
    return fixture.client.workflow.execute(reverifyWorkflow, {
      taskQueue: fixture.worker.taskQueue,
      workflowId: uniqueId('chaos-reverify'),
      args: [{ runDir, format: 'gsm8k', heartbeatTimeoutSeconds: 5 }],
    });
  }

  const served = () => fixture.server.stats.served;

  it('a leftover response log after meta.json (the crash window): verify and resume succeed', async () => {
    const { runDir, experimentId, config: cfg, result } = await finishedRun('window');
    const parts = path.join(runDir, 'samples/se/round-0000/batch-00000.parts.jsonl');
    await appendFile(parts, '{"fingerprint":"leftover","position":0,"chunk":0}\n');
    const verified = await reverify(runDir);
    expect(verified.verify.se.samples).toBe(result.verify.se.samples);
    expect(verified.verify.wc.samples).toBe(result.verify.wc.samples);
    const before = served();
    const resumed = await runExperiment(fixture.client, fixture.worker.taskQueue, {
      runDir,
      config: cfg,
      experimentId,
    });
    expect(served()).toBe(before);
    expect(resumed.verify.se.samples).toBe(result.verify.se.samples);
    expect(await exists(parts)).toBe(false);
  });

  it('a truncated batch file: verify names file and line; resume samples the batch again, counted as re-paid', async () => {
    const { runDir, experimentId, config: cfg, result } = await finishedRun('truncated');
    const batch = path.join(runDir, 'samples/wc/round-0000/batch-00000.jsonl');
    const size = (await stat(batch)).size;
    await truncate(batch, Math.floor(size / 2));
    const started = Date.now();
    const error = await reverify(runDir).catch((e: unknown) => e);
    expect(Date.now() - started).toBeLessThan(FAST_MS);
    expect(rootFailureType(error)).toBe(FailureType.CorruptArtifact);
    expect(rootCauseMessage(error)).toMatch(/round-0000\/batch-00000\.jsonl: line \d+ is not valid JSON/);

    const before = served();
    const resumed = await runExperiment(fixture.client, fixture.worker.taskQueue, {
      runDir,
      config: cfg,
      experimentId,
    });
    // Its response log is gone: the batch's 3 questions x 6 samples are bought again, and the ledger says so.
    const repaid = served() - before;
    expect(repaid).toBe(3 * 6);
    expect(resumed.sampling.wc.ledger.repaidRequests).toBe(repaid);
    expect(resumed.sampling.wc.ledger.requests).toBe(result.sampling.wc.ledger.requests + repaid);
    expect(resumed.verify.wc.samples).toBe(result.verify.wc.samples);
  });

  it('a deleted batch file: never S_WC = 0 in silence; resume re-samples only that batch', async () => {
    const { runDir, experimentId, config: cfg, result } = await finishedRun('deleted');
    await rm(path.join(runDir, 'samples/wc/round-0000/batch-00001.jsonl'));
    const error = await reverify(runDir).catch((e: unknown) => e);
    expect(rootFailureType(error)).toBe(FailureType.CorruptArtifact);
    expect(rootCauseMessage(error)).toMatch(/batch-00001\.jsonl is missing/);

    const before = served();
    const resumed = await runExperiment(fixture.client, fixture.worker.taskQueue, {
      runDir,
      config: cfg,
      experimentId,
    });
    expect(served() - before).toBe(3 * 6);
    expect(resumed.sampling.wc.ledger.repaidRequests).toBe(3 * 6);
    expect(resumed.verify.wc.samples).toBe(result.verify.wc.samples);
    expect(resumed.verify.wc.correct).toBe(result.verify.wc.correct);
  });

  it('a corrupt meta.json: a named non-retryable failure within seconds, shown as the run failure', async () => {
    const { runDir, experimentId, config: cfg } = await finishedRun('corrupt-meta');
    const meta = path.join(runDir, 'samples/wc/round-0000/batch-00001.meta.json');
    await writeFile(meta, '{"fingerprint": ');
    const before = served();
    const started = Date.now();
    const error = await runExperiment(fixture.client, fixture.worker.taskQueue, {
      runDir,
      config: cfg,
      experimentId,
    }).catch((e: unknown) => e);
    expect(Date.now() - started).toBeLessThan(FAST_MS);
    expect(rootFailureType(error)).toBe(FailureType.CorruptArtifact);
    expect(rootCauseMessage(error)).toContain(meta);
    expect(served()).toBe(before);
    // `wcse status` shows it: the failed run and its named root failure.
    const lines: string[] = [];
    const spy = vi.spyOn(console, 'log').mockImplementation((...args: unknown[]) => {
      lines.push(args.join(' '));
    });
    const address = process.env.TEMPORAL_ADDRESS;
    process.env.TEMPORAL_ADDRESS = inject('temporalAddress');
    try {
      expect(await statusCommand(experimentId, {})).toBe(0);
    } finally {
      spy.mockRestore();
      if (address === undefined) delete process.env.TEMPORAL_ADDRESS;
      else process.env.TEMPORAL_ADDRESS = address;
    }
    expect(lines.join('\n')).toMatch(/FAILED/);
    expect(lines.join('\n')).toContain(`failed: CorruptArtifact: ${meta}`);
  });

  it('a rejected config writes nothing into the run directory', async () => {
    const { runDir, experimentId } = await finishedRun('rejected');
    const before = await snapshot(runDir);
    const requests = fixture.server.stats.received;
    // The same id with another WC model: refused before anything is written.
    const other = config({
      models: {
        wc: model(fixture.server.baseURL, 'strong', 9e9, { supportsN: false }),
        se: model(fixture.server.baseURL, 'strong', 27e9),
      },
    });
    const error = await runExperiment(fixture.client, fixture.worker.taskQueue, {
      runDir,
      config: other,
      experimentId,
    }).catch((e: unknown) => e);
    expect(rootFailureType(error)).toBe(FailureType.RunDirMismatch);
    expect(rootCauseMessage(error)).toMatch(/models\.wc\.model/);
    expect(await snapshot(runDir)).toEqual(before);
    expect(fixture.server.stats.received).toBe(requests);

    // A config whose test split leaks into the training problems, in a fresh directory: nothing at all.
    const fresh = path.join(fixture.dir, 'rejected-fresh');
    const leak = await runExperiment(fixture.client, fixture.worker.taskQueue, {
      runDir: fresh,
      config: config({ evaluation: { problems: problemsBlock(fixture.problemsFile) } }),
    }).catch((e: unknown) => e);
    expect(rootFailureType(leak)).toBe(FailureType.TestSetLeak);
    expect(await exists(fresh)).toBe(false);
  });

  it('a second experiment id on an owned run directory is refused with RunDirOwned, paying nothing', async () => {
    const { runDir, experimentId, config: cfg } = await finishedRun('owned');
    const before = await snapshot(runDir);
    const requests = fixture.server.stats.received;
    const error = await runExperiment(fixture.client, fixture.worker.taskQueue, {
      runDir,
      config: cfg,
      experimentId: uniqueId('chaos-intruder'),
    }).catch((e: unknown) => e);
    expect(rootFailureType(error)).toBe(FailureType.RunDirOwned);
    expect(rootCauseMessage(error)).toContain(experimentId);
    expect(fixture.server.stats.received).toBe(requests);
    expect(await snapshot(runDir)).toEqual(before);
    expect(JSON.parse(await readFile(path.join(runDir, 'owner.json'), 'utf8')).experimentId).toBe(
      experimentId,
    );
  });

  it('`wcse run --id` on a run directory another experiment owns is refused before anything starts', async () => {
    const runDir = path.join(fixture.dir, 'owned-cli');
    await mkdir(runDir, { recursive: true });
    await writeFile(path.join(runDir, 'owner.json'), JSON.stringify({ experimentId: 'first-owner' }));
    const configFile = path.join(fixture.dir, 'owned-cli.yaml');
    await writeFile(
      configFile,
      [
        'name: owned-cli',
        `runDir: ${runDir}`,
        `problems: {path: ${fixture.problemsFile}, kind: generic, fields: {question: question, answer: answer, id: id}}`,
        'models:',
        `  wc: {model: weak, baseURL: "${fixture.server.baseURL}", params: 1e9}`,
        `  se: {model: strong, baseURL: "${fixture.server.baseURL}", params: 2e9}`,
        'budget: {mode: ratio, samplesPerQuestion: 2}',
        '',
      ].join('\n'),
    );
    const before = await snapshot(runDir);
    const errors: string[] = [];
    const spy = vi.spyOn(console, 'error').mockImplementation((...args: unknown[]) => {
      errors.push(args.join(' '));
    });
    try {
      expect(await runCommand(configFile, { id: 'second-owner' })).toBe(2);
    } finally {
      spy.mockRestore();
    }
    expect(errors.join('\n')).toMatch(/RunDirOwned: .* belongs to experiment first-owner/);
    expect(await snapshot(runDir)).toEqual(before);
  });

  it('a run directory that takes no writes fails fast with SaveFailed, buying nothing it cannot keep', async () => {
    const runDir = path.join(fixture.dir, 'unwritable');
    // Tests run as root, where permissions do not stop writes: a file where the round directory belongs
    // makes every write of a WC batch fail, as a read-only mount would.
    await mkdir(path.join(runDir, 'samples/wc'), { recursive: true });
    await writeFile(path.join(runDir, 'samples/wc/round-0000'), 'in the way\n');
    const weakBefore = fixture.server.stats.perModel.weak?.received ?? 0;
    const started = Date.now();
    const error = await runExperiment(fixture.client, fixture.worker.taskQueue, {
      runDir,
      config: config(),
    }).catch((e: unknown) => e);
    expect(Date.now() - started).toBeLessThan(FAST_MS);
    expect(rootFailureType(error)).toBe(FailureType.SaveFailed);
    expect(rootCauseMessage(error)).toMatch(
      /could not save samples\/wc\/round-0000\/batch-\d+\.(parts|sent)\.jsonl/,
    );
    expect(fixture.server.stats.perModel.weak?.received ?? 0).toBe(weakBefore);
  });
});
