// The `wcse` command as a user runs it: a real process, the embedded default (its own dev server and
// in-process worker), then status, history and report against the same server.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execFile } from 'node:child_process';
import { readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';
import {
  answerScript,
  goldTable,
  startScriptedServer,
  type ScriptedServer,
} from './support/scripted-server.js';
import { tempDir, writeProblems } from './support/harness.js';
import { stopDevServer } from '../workers/temporal-cli.js';

const run = promisify(execFile);
const wcse = (args: string[], env: Record<string, string> = {}) =>
  run(process.execPath, ['bin/wcse.js', ...args], {
    env: { ...process.env, TEMPORAL_ADDRESS: '', ...env },
    timeout: 180_000,
    maxBuffer: 10 * 1024 * 1024,
  });

describe('wcse plan', () => {
  it('prints the compute-matched plan of the shipped example as JSON', async () => {
    const { stdout } = await wcse(['plan', 'examples/gsm8k.yaml', '--json']);
    const plan = JSON.parse(stdout);
    expect(plan.mode).toBe('ratio');
    expect(plan.questions).toBe(7473 - 500); // GSM8K train less the 500 held out for model selection
    for (const source of ['wc', 'se']) {
      for (const field of [
        'model',
        'params',
        'samplesPerQuestion',
        'expectedTokens',
        'expectedFlops',
        'expectedCostUsd',
      ]) {
        expect(plan[source]).toHaveProperty(field);
      }
    }
    // The paper's high budget at nominal sizes 9B / 27B: S_SE = 10, S_WC = 30.
    expect([plan.wc.samplesPerQuestion, plan.se.samplesPerQuestion]).toEqual([30, 10]);
  });

  it('exits non-zero with the file and field of a config error', async () => {
    const dir = await tempDir('cli-bad');
    const file = path.join(dir, 'bad.yaml');
    await writeFile(
      file,
      'name: x\nproblems: {path: p.jsonl, kind: gsm8k}\nmodels: {}\nbudget: {mode: ratio}\n',
    );
    const error = (await wcse(['plan', file]).catch((e: unknown) => e)) as { code: number; stderr: string };
    expect(error.code).toBe(2);
    expect(error.stderr).toContain(file);
    expect(error.stderr).toMatch(/line 3: models\.wc: /);
    expect(error.stderr).toMatch(/budget\.samplesPerQuestion/);
  });
});

describe('wcse run (embedded default)', () => {
  let server: ScriptedServer;
  let home: string;

  beforeAll(async () => {
    home = await tempDir('cli-home');
  });
  afterAll(async () => {
    await stopDevServer(path.join(home, 'temporal'));
    await server?.close();
  });

  it('runs an experiment with its own dev server and worker; status, history and report read it back', async () => {
    const problems = await writeProblems(home, 4);
    server = await startScriptedServer({
      models: {
        weak: answerScript({ gold: goldTable(Object.fromEntries(problems.gold)), correctFraction: 0.5 }),
      },
    });
    const config = path.join(home, 'experiment.yaml');
    await writeFile(
      config,
      [
        'name: cli-e2e',
        `runDir: ${path.join(home, 'run')}`,
        'problems: {path: problems.jsonl, kind: generic, fields: {question: question, answer: answer, id: id}}',
        'models:',
        `  wc: {model: weak, baseURL: "${server.baseURL}", params: 1e9}`,
        `  se: {model: weak, baseURL: "${server.baseURL}", params: 3e9}`,
        'budget: {mode: ratio, samplesPerQuestion: 1}',
        '',
      ].join('\n'),
    );
    const env = { WCSE_HOME: home };
    const started = await wcse(['run', config], env);
    const id = started.stdout.trim();
    expect(id).toMatch(/^cli-e2e-[0-9a-f]{8}$/);
    expect(started.stderr).toMatch(
      /Started the local Temporal dev server \(Web UI: http:\/\/127\.0\.0\.1:\d+\)/,
    );
    expect(started.stderr).toMatch(/Experiment cli-e2e-[0-9a-f]{8} completed/);

    const status = await wcse(['status', id, '--json'], env);
    expect(JSON.parse(status.stdout).status).toBe('COMPLETED');

    const history = await wcse(['history', id], env);
    expect(history.stdout).toMatch(/prepareRun: completed/);
    expect(history.stdout).toMatch(/sampleBatch \[wc round 0 batch 0\]: completed/);
    expect(history.stdout).toMatch(/experiment cli-e2e-[0-9a-f]{8} completed/);

    const report = await wcse(['report', id], env);
    expect(report.stdout).toContain(path.join(home, 'run', 'report.md'));
    const metrics = JSON.parse(await readFile(path.join(home, 'run', 'metrics.json'), 'utf8'));
    expect(metrics.sources.wc.samplesPerQuestion).toBe(3);

    // Re-grading the stored samples is one command; it records the verifier version with the verdicts.
    const verify = await wcse(['verify', id], env);
    expect(verify.stdout).toMatch(
      /^wc: \d+\/12 correct(, no answer found in \d+)? \(verifier wcse-verify-[\d.]+\)$/m,
    );
    const verdictMeta = JSON.parse(
      await readFile(path.join(home, 'run', 'verdicts', 'wc.meta.json'), 'utf8'),
    );
    expect(verdictMeta.verifierVersion).toMatch(/^wcse-verify-/);
    expect(verdictMeta.samples).toBe(12);

    // Running it again reuses every artifact: no request reaches the endpoint.
    const served = server.stats.served;
    await wcse(['run', config], env);
    expect(server.stats.served).toBe(served);
  });
});
