// Evaluation against the scripted server: an evaluation's identity includes its model, test set and
// sampling settings (a changed temperature or split is evaluated anew, an unchanged one costs nothing),
// and the maj@k curve of a sampled pass is the hand-computed one.
import { MockActivityEnvironment } from '@temporalio/testing';
import { mkdtemp } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { evaluateModel, type EvaluateInput } from '../activities/evaluate.js';
import { forgetRun } from '../activities/run-data.js';
import { openStore, toJsonl } from '../activities/store.js';
import { ModelSchema, type ModelConfig } from '../core/config.js';
import { evalProblemsKey } from '../core/layout.js';
import type { Problem } from '../core/records.js';
import type { EvalResult } from '../core/results.js';
import {
  answerScript,
  goldTable,
  startScriptedServer,
  type ScriptedServer,
} from './support/scripted-server.js';
import { model } from './support/harness.js';

process.env.WCSE_TEST_API_KEY = 'sk-test-evaluate';

/** Test question i (1-based) of a split: "<prefix><i>: what is i times 3?". */
function split(prefix: string, count: number): Problem[] {
  return Array.from({ length: count }, (_, index) => {
    const i = index + 1;
    return {
      id: `${prefix.toLowerCase()}${i}`,
      question: `${prefix}${i}: what is ${i} times 3?`,
      gold: String(3 * i),
    };
  });
}

/** The question's number from "<prefix><i>: ...". */
function questionNumber(question: string): number {
  return Number(/^[A-Z]+(\d+):/.exec(question)?.[1] ?? 0);
}

describe('evaluation', () => {
  let server: ScriptedServer;
  const all = [...split('T', 4), ...split('U', 4), ...split('V', 4)];
  const gold = goldTable(Object.fromEntries(all.map((p) => [p.question, p.gold])));

  beforeAll(async () => {
    server = await startScriptedServer({
      models: {
        // Greedy: questions 1 and 2 right. Every sample of a question gets the same answer.
        solver: answerScript({ gold, correct: (s) => questionNumber(s.question) <= 2 }),
        // Greedy (temperature 0, the first sample of a question): questions 1 and 2 right. Sampled
        // (temperature 0.7, samples k = 1..4 after the greedy one): question i has i - 1 correct samples;
        // wrong samples all give different wrong answers.
        voter: answerScript({
          gold,
          correct: (s) =>
            s.ctx.temperature === 0 ? questionNumber(s.question) <= 2 : s.k <= questionNumber(s.question) - 1,
        }),
      },
    });
  });
  afterAll(async () => {
    await server?.close();
  });

  const servedModel = (name: string, temperature: number): ModelConfig =>
    ModelSchema.parse(model(server.baseURL, name, 1e9, { sampling: { temperature, maxTokens: 64 } }));

  const runDirWith = async (problems: Problem[]): Promise<string> => {
    const runDir = await mkdtemp(path.join(os.tmpdir(), 'wcse-evaluate-'));
    await writeSplit(runDir, problems);
    return runDir;
  };
  const writeSplit = async (runDir: string, problems: Problem[]) => {
    const store = openStore(runDir);
    await store.write(evalProblemsKey('test'), toJsonl(problems));
    forgetRun(store.location);
  };

  const input = (
    runDir: string,
    modelConfig: ModelConfig,
    extra: Partial<EvaluateInput> = {},
  ): EvaluateInput => ({
    runDir,
    evalId: 'student-on-wc',
    kind: 'finetuned',
    setup: 'student',
    data: 'wc',
    model: modelConfig,
    samples: 1,
    batchSize: 2,
    format: 'gsm8k',
    ...extra,
  });
  const evaluate = (value: EvaluateInput) =>
    new MockActivityEnvironment().run(evaluateModel, value) as Promise<EvalResult>;
  const served = (name: string) => server.stats.perModel[name]?.servedChoices ?? 0;

  it('re-evaluates a changed temperature or test split, and reuses an unchanged evaluation', async () => {
    const runDir = await runDirWith(split('T', 4));
    const first = await evaluate(input(runDir, servedModel('solver', 0)));
    expect(first).toMatchObject({ n: 4, correct: 2, accuracy: 0.5, testSet: 'test' });
    expect(served('solver')).toBe(4);

    // The same settings again: the saved result, nothing sent.
    const again = await evaluate(input(runDir, servedModel('solver', 0)));
    expect(again).toEqual(first);
    expect(served('solver')).toBe(4);

    // Another temperature: a new evaluation, every question sampled again.
    const warmer = await evaluate(input(runDir, servedModel('solver', 0.5)));
    expect(served('solver')).toBe(8);
    expect(warmer.fingerprint).not.toBe(first.fingerprint);
    expect(warmer.correct).toBe(2);

    // Another split under the same evalId (U1-U4, V3, V4; only U1 and U2 right): evaluated on the new split.
    await writeSplit(runDir, [...split('U', 4), ...split('V', 4).slice(2)]);
    const otherSplit = await evaluate(input(runDir, servedModel('solver', 0)));
    expect(served('solver')).toBe(14);
    expect(otherSplit).toMatchObject({ n: 6, correct: 2 });
    expect(otherSplit.fingerprint).not.toBe(first.fingerprint);

    // Back to the first split and settings: its saved result again, nothing sent.
    await writeSplit(runDir, split('T', 4));
    expect(await evaluate(input(runDir, servedModel('solver', 0)))).toEqual(first);
    expect(served('solver')).toBe(14);
  });

  it('reports maj@k of a sampled pass beside greedy pass@1, as computed by hand', async () => {
    const runDir = await runDirWith(split('T', 4));
    const greedy = servedModel('voter', 0);
    const majority = { model: servedModel('voter', 0.7), samples: 4, k: [4, 1, 2] };
    const result = await evaluate(input(runDir, greedy, { majority }));
    expect(result.accuracy).toBe(0.5);
    expect(served('voter')).toBe(4 + 16);
    // Question i has c = i - 1 correct of 4 samples, the wrong ones all different answers. Over k-subsets,
    // ties split: c = 0: 0 at every k; c = 1: 1/4 at k = 1, 2, 4 (a tie whenever it is drawn);
    // c = 2: 1/2, 1/2, 1; c = 3: 3/4, 3/4, 1.
    expect(result.majority).toMatchObject({ temperature: 0.7, samples: 4 });
    const curve = result.majority!.curve;
    expect(curve.map((p) => p.k)).toEqual([1, 2, 4]);
    expect(curve[0].accuracy).toBeCloseTo((0 + 0.25 + 0.5 + 0.75) / 4, 12);
    expect(curve[1].accuracy).toBeCloseTo((0 + 0.25 + 0.5 + 0.75) / 4, 12);
    expect(curve[2].accuracy).toBeCloseTo((0 + 0.25 + 1 + 1) / 4, 12);

    // Asking for a larger k than was drawn is a new sampled pass; the greedy pass is reused.
    const more = { ...majority, samples: 8, k: [8] };
    const bigger = await evaluate(input(runDir, greedy, { majority: more }));
    expect(served('voter')).toBe(4 + 16 + 32);
    expect(bigger.fingerprint).toBe(result.fingerprint);
    expect(bigger.majority!.curve).toHaveLength(1);
  });
});
