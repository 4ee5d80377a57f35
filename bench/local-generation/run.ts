// Local generation throughput: the engine answering through llama.cpp's llama-server against the engine's own
// (transformers) generation, on the same prompts, in one run. Two engines are started side by side (one with
// --llama-server, one without), warmed up with one request each, then sent the same requests at the same client
// concurrency. Prints completion tokens per second of each and the ratio.
//
//   npm run bench:local-generation -- [--model smollm2-135m] [--questions 8] [--n 4] [--max-tokens 64]
//                                     [--concurrency 2]
// Needs bash scripts/setup.sh (engine venv + llama-server). Timings depend on what else the machine runs.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import OpenAI from 'openai';
import { PromptSchema } from '../../core/config.js';
import { buildMessages } from '../../core/prompt.js';
import { freePort } from '../../workers/temporal-cli.js';

const { values } = parseArgs({
  options: {
    model: { type: 'string', default: 'smollm2-135m' },
    questions: { type: 'string', default: '8' },
    n: { type: 'string', default: '4' },
    'max-tokens': { type: 'string', default: '64' },
    concurrency: { type: 'string', default: '2' },
  },
});
const model = values.model;
const questionCount = Number(values.questions);
const n = Number(values.n);
const maxTokens = Number(values['max-tokens']);
const concurrency = Number(values.concurrency);

const PYTHON = path.resolve('engine/.venv/bin/python');
if (!existsSync(PYTHON)) throw new Error(`${PYTHON} is missing: run bash scripts/setup.sh`);
const found = spawnSync('bash', ['scripts/llama-server.sh'], { encoding: 'utf8' });
const llamaServer = found.stdout.trim().split('\n').pop() ?? '';
if (found.status !== 0 || !llamaServer) {
  throw new Error(`no llama-server (scripts/llama-server.sh exited ${found.status}):\n${found.stderr}`);
}

// The quickstart's prompt on the quickstart's GSM8K problems.
const prompt = PromptSchema.parse({
  system: 'Solve the math problem step by step. End with "The answer is N." where N is a number.',
  fewShot: [
    {
      question: "Twice Angie's age, plus 4, is 20. How old is Angie?",
      answer: 'Twice her age is 20 - 4 = 16. Angie is 16 / 2 = 8. The answer is 8.',
    },
  ],
});
const questions = (await readFile('data/gsm8k_quickstart_train.jsonl', 'utf8'))
  .split('\n')
  .filter(Boolean)
  .slice(0, questionCount)
  .map((line) => (JSON.parse(line) as { question: string }).question);

interface Engine {
  process: ChildProcess;
  client: OpenAI;
  dir: string;
}

async function startEngine(withLlama: boolean): Promise<Engine> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'wcse-bench-local-'));
  const port = await freePort();
  const args = ['-m', 'wcse_engine', 'serve', '--port', String(port), '--state-dir', dir];
  if (withLlama) args.push('--llama-server', llamaServer);
  const child = spawn(PYTHON, args, {
    cwd: path.resolve('engine'),
    env: { ...process.env, HF_HUB_OFFLINE: '1' },
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  const deadline = Date.now() + 180_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`the engine exited with code ${child.exitCode}`);
    const health = await fetch(`http://127.0.0.1:${port}/health`).then(
      (r) => (r.ok ? (r.json() as Promise<{ generation: string }>) : null),
      () => null,
    );
    if (health) {
      const expected = withLlama ? 'llama-server' : 'transformers';
      if (health.generation !== expected) {
        throw new Error(`engine generation is ${health.generation}, expected ${expected}`);
      }
      break;
    }
    if (Date.now() > deadline) throw new Error('the engine did not become ready in 180 s');
    await new Promise((resolve) => setTimeout(resolve, 500));
  }
  const client = new OpenAI({
    baseURL: `http://127.0.0.1:${port}/v1`,
    apiKey: process.env.WCSE_ENGINE_API_KEY ?? 'local',
    timeout: 3_600_000,
  });
  return { process: child, client, dir };
}

async function measure(engine: Engine): Promise<{ tokens: number; seconds: number }> {
  const ask = (question: string, seed: number) =>
    engine.client.chat.completions.create({
      model,
      messages: buildMessages(prompt, question),
      n,
      temperature: 0.8,
      top_p: 0.95,
      max_tokens: maxTokens,
      seed,
    });
  await ask(questions[0] ?? 'What is 1 + 1?', 0); // loads the model / starts its llama-server
  let next = 0;
  let tokens = 0;
  const started = performance.now();
  const lane = async () => {
    while (next < questions.length) {
      const index = next++;
      const answer = await ask(questions[index] ?? '', index + 1);
      tokens += answer.usage?.completion_tokens ?? 0;
    }
  };
  await Promise.all(Array.from({ length: concurrency }, lane));
  return { tokens, seconds: (performance.now() - started) / 1000 };
}

const results: Record<string, { tokens: number; seconds: number }> = {};
for (const [label, withLlama] of [
  ['llama-server', true],
  ['engine (transformers)', false],
] as const) {
  const engine = await startEngine(withLlama);
  try {
    results[label] = await measure(engine);
  } finally {
    engine.process.kill('SIGTERM');
    await new Promise((resolve) => setTimeout(resolve, 500));
    await rm(engine.dir, { recursive: true, force: true });
  }
  const { tokens, seconds } = results[label];
  console.log(
    `${label.padEnd(22)} ${tokens} completion tokens in ${seconds.toFixed(1)} s: ` +
      `${(tokens / seconds).toFixed(1)} tokens/s`,
  );
}
const rate = (label: string) => {
  const result = results[label];
  return result ? result.tokens / result.seconds : NaN;
};
console.log(
  `model ${model}, ${questions.length} prompts x n=${n}, max_tokens ${maxTokens}, client concurrency ` +
    `${concurrency}, ${os.cpus().length} cores (load average ${os.loadavg()[0]?.toFixed(1)} at the end)`,
);
console.log(
  `ratio llama-server / engine: ${(rate('llama-server') / rate('engine (transformers)')).toFixed(2)}x`,
);
