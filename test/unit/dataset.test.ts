// selectDataset: every correct solution by default (the paper's datasets); optional de-duplication by the
// unique-solution definition, the per-question cap, and the validation split by a stable hash of
// (seed, question id).
import { describe, expect, it } from 'vitest';
import { selectDataset, toChatExample, type CorrectSolution } from '../../core/dataset.js';
import { seededRandom } from './random.js';

function solution(questionId: string, sampleIndex: number, text: string): CorrectSolution {
  return { questionId, question: `question ${questionId}`, sampleIndex, text };
}

/** `count` questions with `perQuestion` distinct solutions each. */
function distinctSolutions(count: number, perQuestion: number): CorrectSolution[] {
  const all: CorrectSolution[] = [];
  for (let q = 0; q < count; q++) {
    for (let i = 0; i < perQuestion; i++) all.push(solution(`q${q}`, i, `solution ${i} of q${q}`));
  }
  return all;
}

const questionsOf = (rows: CorrectSolution[]) => [...new Set(rows.map((r) => r.questionId))].sort();
const key = (r: CorrectSolution) => `${r.questionId}#${r.sampleIndex}`;

describe('selectDataset', () => {
  it('keeps every correct solution by default, counting the repeats it keeps', () => {
    const input = [
      solution('a', 3, 'x = 2'),
      solution('a', 0, '  x  =\n2 '),
      solution('a', 1, 'x = 3'),
      solution('b', 0, 'x = 2'),
      solution('b', 1, 'x = 2'),
      solution('b', 2, 'x = 2'),
    ];
    const selection = selectDataset(seededRandom(3).shuffle(input), { validationFraction: 0, seed: 0 });
    expect(selection.train.map(key)).toEqual(['a#0', 'a#1', 'a#3', 'b#0', 'b#1', 'b#2']);
    expect(selection.duplicates).toBe(3);
    expect(selection.duplicatesDropped).toBe(0);
    expect(selection.cappedDropped).toBe(0);
    expect(selectDataset(input, { dedupe: false, validationFraction: 0, seed: 0 }).train).toHaveLength(6);
  });

  it('with dedupe, keeps the lowest-index copy of each unique solution per question, whatever the input order', () => {
    const input = [
      solution('a', 3, 'x = 2'),
      solution('a', 0, '  x  =\n2 '), // the same solution as index 3, re-spaced: kept (lower index)
      solution('a', 1, 'x=2'), // different: no whitespace is not the same as one space
      solution('a', 2, 'x = 3'),
      solution('b', 5, 'x = 2'), // the same text in another question is not a duplicate
      solution('b', 4, 'x = 2\t'),
    ];
    const random = seededRandom(11);
    for (let trial = 0; trial < 20; trial++) {
      const selection = selectDataset(random.shuffle(input), {
        dedupe: true,
        validationFraction: 0,
        seed: 0,
      });
      expect(selection.train.map(key)).toEqual(['a#0', 'a#1', 'a#2', 'b#4']);
      expect(selection.validation).toEqual([]);
      expect(selection.duplicates).toBe(2);
      expect(selection.duplicatesDropped).toBe(2);
      expect(selection.cappedDropped).toBe(0);
    }
  });

  it('caps each question at maxPerQuestion unique solutions, after de-duplication', () => {
    const input = [
      solution('a', 0, 'one'),
      solution('a', 1, 'one'),
      solution('a', 2, 'two'),
      solution('a', 3, 'three'),
      solution('a', 4, 'four'),
      solution('b', 0, 'one'),
    ];
    const options = { dedupe: true, validationFraction: 0, seed: 0 };
    const selection = selectDataset(input, { ...options, maxPerQuestion: 2 });
    expect(selection.train.map(key)).toEqual(['a#0', 'a#2', 'b#0']);
    expect(selection.duplicatesDropped).toBe(1);
    expect(selection.cappedDropped).toBe(2);
    const uncapped = selectDataset(input, options);
    expect(uncapped.train).toHaveLength(5);
    expect(uncapped.cappedDropped).toBe(0);
    // Without dedupe the cap counts repeats too: the first two by sample index.
    const cappedOnly = selectDataset(input, { validationFraction: 0, seed: 0, maxPerQuestion: 2 });
    expect(cappedOnly.train.map(key)).toEqual(['a#0', 'a#1', 'b#0']);
    expect(cappedOnly).toMatchObject({ duplicates: 1, duplicatesDropped: 0, cappedDropped: 3 });
  });

  it('accounts for every solution, keeps whole questions together and orders by question then index', () => {
    const random = seededRandom(77);
    for (let c = 0; c < 50; c++) {
      const input: CorrectSolution[] = [];
      const questions = random.int(0, 30);
      for (let q = 0; q < questions; q++) {
        const count = random.int(1, 6);
        for (let i = 0; i < count; i++) {
          input.push(solution(`q${random.int(0, 99)}-${q}`, i, `answer ${random.int(0, 3)}`));
        }
      }
      const maxPerQuestion = random.pick([undefined, 1, 2, 3]);
      const dedupe = random.pick([undefined, false, true]);
      const selection = selectDataset(random.shuffle(input), {
        dedupe,
        maxPerQuestion,
        validationFraction: random.pick([0, 0.1, 0.3, 0.5]),
        seed: random.int(0, 1000),
      });
      const { train, validation, duplicates, duplicatesDropped, cappedDropped } = selection;
      expect(train.length + validation.length + duplicatesDropped + cappedDropped).toBe(input.length);
      expect(duplicatesDropped).toBe(dedupe ? duplicates : 0);
      if (!dedupe && !maxPerQuestion) expect(train.length + validation.length).toBe(input.length);
      const trainQuestions = new Set(questionsOf(train));
      expect(questionsOf(validation).filter((q) => trainQuestions.has(q))).toEqual([]);
      for (const bucket of [train, validation]) {
        const sorted = [...bucket].sort((x, y) =>
          x.questionId === y.questionId
            ? x.sampleIndex - y.sampleIndex
            : x.questionId < y.questionId
              ? -1
              : 1,
        );
        expect(bucket).toEqual(sorted);
        for (const id of questionsOf(bucket)) {
          const kept = bucket.filter((r) => r.questionId === id);
          if (dedupe) expect(new Set(kept.map((r) => r.text)).size).toBe(kept.length);
          if (maxPerQuestion) expect(kept.length).toBeLessThanOrEqual(maxPerQuestion);
        }
      }
    }
  });

  it('splits by question: stable for a seed, independent of the other questions, about the fraction', () => {
    const all = distinctSolutions(2000, 2);
    const options = { validationFraction: 0.2, seed: 42 };
    const full = selectDataset(all, options);
    const validationQuestions = new Set(questionsOf(full.validation));
    // About 20% of 2000 questions (a fixed hash, so this is a fixed outcome, not a flaky one).
    expect(validationQuestions.size).toBeGreaterThan(340);
    expect(validationQuestions.size).toBeLessThan(460);
    // The same question goes the same way when only a part of the set is selected, in any order.
    const part = seededRandom(5)
      .shuffle(all)
      .filter((r) => Number(r.questionId.slice(1)) % 3 === 0);
    const partial = selectDataset(part, options);
    expect(questionsOf(partial.validation)).toEqual(
      questionsOf(part).filter((q) => validationQuestions.has(q)),
    );
    // Another seed is another split; a larger fraction only adds questions to validation.
    const reseeded = new Set(questionsOf(selectDataset(all, { ...options, seed: 43 }).validation));
    expect([...reseeded].filter((q) => validationQuestions.has(q)).length).toBeLessThan(
      validationQuestions.size / 2,
    );
    const larger = new Set(
      questionsOf(selectDataset(all, { ...options, validationFraction: 0.4 }).validation),
    );
    expect([...validationQuestions].every((q) => larger.has(q))).toBe(true);
    expect(larger.size).toBeGreaterThan(validationQuestions.size);
  });

  it('sends about the fraction of questions to validation, also for sequential ids', () => {
    // FNV-1a without a finaliser put 5% to 35% of q0..q1999 in validation at a fraction of 0.2.
    const shapes = {
      q: (i: number) => `q${i}`,
      line: (i: number) => `line-${i + 1}`, // the default id of a gsm8k problem set
      padded: (i: number) => `gsm8k-train-${String(i).padStart(5, '0')}`,
      math: (i: number) => `test/algebra/${i}.json`,
    };
    for (const [shape, id] of Object.entries(shapes)) {
      const rows = Array.from({ length: 3000 }, (_, i) => solution(id(i), 0, 'x'));
      for (const seed of [0, 1, 7, 42, 1234]) {
        for (const fraction of [0.05, 0.1, 0.2, 0.5]) {
          const share = selectDataset(rows, { validationFraction: fraction, seed }).validation.length / 3000;
          // A binomial share of 3000 has a standard deviation of at most 0.0092; 0.035 is about 4 of them.
          if (Math.abs(share - fraction) > 0.035) {
            expect.fail(`${shape} ids, seed ${seed}: ${share} in validation for a fraction of ${fraction}`);
          }
        }
      }
    }
  });

  it('fraction 0 sends nothing to validation; fraction 1 sends everything', () => {
    const all = distinctSolutions(50, 3);
    expect(selectDataset(all, { validationFraction: 0, seed: 1 }).validation).toEqual([]);
    const everything = selectDataset(all, { validationFraction: 1, seed: 1 });
    expect(everything.train).toEqual([]);
    expect(everything.validation).toHaveLength(150);
  });

  it('no solutions: an empty selection', () => {
    expect(selectDataset([], { maxPerQuestion: 3, validationFraction: 0.5, seed: 9 })).toEqual({
      train: [],
      validation: [],
      duplicates: 0,
      duplicatesDropped: 0,
      cappedDropped: 0,
    });
  });
});

describe('toChatExample', () => {
  it('is the evaluation prompt for the question, answered by the trimmed solution', () => {
    const example = toChatExample(solution('a', 0, '\n  x = 2  \n'), {
      system: 'Solve it.',
      user: 'Problem: {question}',
    });
    expect(example.messages).toEqual([
      { role: 'system', content: 'Solve it.' },
      { role: 'user', content: 'Problem: question a' },
      { role: 'assistant', content: 'x = 2' },
    ]);
    expect(toChatExample(solution('a', 0, 'x'), { user: '{question}' }).messages[0].role).toBe('user');
  });
});
