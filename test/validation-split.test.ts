// Model selection's validation problems: held out of the training file (problems.holdOut) or given as a
// file (finetune.validation), checked against the training and test sets and recorded by the prepare
// stage, before anything is sampled or paid for.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readdir, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { prepareRun } from '../activities/prepare.js';
import { readHeldOutProblems, readProblemSet } from '../activities/problems.js';
import { openStore, readJsonl } from '../activities/store.js';
import { rootFailureType } from '../core/failures.js';
import { VALIDATION_PROBLEMS_KEY } from '../core/layout.js';
import type { Problem } from '../core/records.js';
import { model, problemsBlock, tempDir, testConfig, writeProblems } from './support/harness.js';

let dir: string;
let train: string;

beforeAll(async () => {
  dir = await tempDir('validation-split');
  train = (await writeProblems(dir, 60)).file;
});
afterAll(async () => {
  if (dir) await rm(dir, { recursive: true, force: true });
});

const models = {
  wc: model('http://127.0.0.1:9/v1', 'weak', 1e9),
  se: model('http://127.0.0.1:9/v1', 'strong', 2e9),
  student: model('http://127.0.0.1:9/v1', 'student', 0.5e9),
};

function selectionConfig(problems: Record<string, unknown>, finetune: Record<string, unknown> = {}) {
  return testConfig({
    problems,
    models,
    budget: { mode: 'ratio', samplesPerQuestion: 1 },
    finetune: { setups: { student: true, wc: false, se: false }, steps: 4, checkpoints: 2, ...finetune },
    evaluation: { problems: problemsBlock(path.join(dir, 'test.jsonl')) },
  });
}

describe('problems.holdOut', () => {
  it('holds a seeded subset out of training, independent of limit, disjoint from what is trained on', async () => {
    const config = { ...problemsBlock(train), holdOut: 10, seed: 3 };
    const heldOut = await readHeldOutProblems(config);
    const training = await readProblemSet(config);
    expect(heldOut).toHaveLength(10);
    expect(training).toHaveLength(50);
    const heldIds = new Set(heldOut.map((p) => p.id));
    expect(training.some((p) => heldIds.has(p.id))).toBe(false);
    // Limiting the training set never changes which questions are held out.
    const limited = { ...config, limit: 20 };
    expect((await readHeldOutProblems(limited)).map((p) => p.id)).toEqual(heldOut.map((p) => p.id));
    const limitedTraining = await readProblemSet(limited);
    expect(limitedTraining).toHaveLength(20);
    expect(limitedTraining.some((p) => heldIds.has(p.id))).toBe(false);
    // Not the first rows: a random subset.
    expect(heldOut.map((p) => p.id)).not.toEqual(Array.from({ length: 10 }, (_, i) => `q${i + 1}`));
  });

  it('refuses to hold out the whole file, naming the field', async () => {
    await expect(readProblemSet({ ...problemsBlock(train), holdOut: 60 })).rejects.toThrow(
      /problems\.holdOut: 60 held-out questions would leave none of the file's 60/,
    );
  });

  it('is a config error on a test set, and selection needs a validation source', () => {
    expect(() =>
      testConfig({
        problems: problemsBlock(train),
        models,
        budget: { mode: 'ratio', samplesPerQuestion: 1 },
        evaluation: { problems: { ...problemsBlock(train), holdOut: 3 } },
      }),
    ).toThrow(/evaluation\.problems\.holdOut: only the training problems/);
    expect(() => selectionConfig(problemsBlock(train))).toThrow(/problems\.holdOut/);
  });
});

describe('prepareRun records the validation problems', () => {
  beforeAll(async () => {
    // Test questions Q61..Q70: disjoint from the training file's Q1..Q60.
    const rows = Array.from({ length: 10 }, (_, i) =>
      JSON.stringify({ id: `t${i}`, question: `Q${61 + i}: what is ${61 + i} + ${61 + i}?`, answer: '0' }),
    );
    await writeFile(path.join(dir, 'test.jsonl'), rows.join('\n') + '\n');
  });

  it('writes the held-out questions, which are not among the training problems', async () => {
    const runDir = path.join(dir, 'run-holdout');
    const config = selectionConfig({ ...problemsBlock(train), holdOut: 8, seed: 1 });
    const prepared = await prepareRun({ runDir, config, experimentId: 'exp-holdout' });
    expect(prepared.questions).toBe(52);
    const validation = (await readJsonl<Problem>(openStore(runDir), VALIDATION_PROBLEMS_KEY))!;
    expect(validation.map((p) => p.id)).toEqual(
      (await readHeldOutProblems(config.problems)).map((p) => p.id),
    );
  });

  it('refuses a validation file that overlaps the training problems before writing anything', async () => {
    const runDir = path.join(dir, 'run-leak');
    const config = selectionConfig(problemsBlock(train), { validation: problemsBlock(train) });
    const failure = await prepareRun({ runDir, config, experimentId: 'exp-leak' }).catch((error) => error);
    expect(rootFailureType(failure)).toBe('TestSetLeak');
    expect(String(failure.message)).toMatch(
      /finetune\.validation: 60 validation question\(s\) also appear in the training/,
    );
    await expect(readdir(runDir)).rejects.toThrow(/ENOENT/);
  });
});
