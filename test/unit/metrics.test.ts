// coverage@k and diversity@k against brute force: on many small random cases, the estimators must equal
// the exact mean over every k-subset of the S samples, at every k in 1..S, overall and per level.
import { describe, expect, it } from 'vitest';
import {
  coverageCurve,
  diversityCurve,
  questionCoverageAtK,
  questionDiversityAtK,
  solutionIdentity,
  sourceMetrics,
  type QuestionSamples,
} from '../../core/metrics.js';
import { seededRandom, subsets, type Random } from './random.js';

const TOLERANCE = 1e-12;

/** Distinct solutions under the unique-solution definition: each differs by a step, number, word or case. */
const CANONICAL = ['x = 2', 'x=2', 'X = 2', 'x = 2.', 'so x = 2', 'x = 3', 'add 1 and 1 to get 2', 'two'];

/** A sample whose true solution (`solution`) is known by construction, written with random whitespace. */
interface GeneratedSample {
  correct: boolean;
  solution: string;
  text: string;
}

const WHITESPACE = [' ', '  ', '\t', '\n', ' \n\t ', '\r\n'];

/** The canonical text re-spaced: random whitespace before, after, and in place of every single space. */
function respace(random: Random, canonical: string): string {
  const edge = () => (random.next() < 0.5 ? '' : random.pick(WHITESPACE));
  return edge() + canonical.split(' ').join(random.pick(WHITESPACE)) + edge();
}

function randomQuestion(random: Random, id: string, size: number, level?: string) {
  const correctRate = random.pick([0, 0.2, 0.5, 0.8, 1]);
  // A small pool makes duplicates common; a large one makes them rare.
  const pool = CANONICAL.slice(0, random.int(1, CANONICAL.length));
  const generated: GeneratedSample[] = [];
  for (let i = 0; i < size; i++) {
    const solution = random.pick(pool);
    generated.push({ correct: random.next() < correctRate, solution, text: respace(random, solution) });
  }
  const question: QuestionSamples = {
    questionId: id,
    ...(level === undefined ? {} : { level }),
    samples: generated.map(({ correct, text }) => ({ correct, text })),
  };
  return { question, generated };
}

/** The exact mean over all k-subsets (k capped at S) of: any correct / the number of distinct correct solutions. */
function bruteForce(samples: GeneratedSample[], k: number): { coverage: number; diversity: number } {
  const size = Math.min(k, samples.length);
  let subsetsSeen = 0;
  let covered = 0;
  let distinct = 0;
  for (const subset of subsets(samples.length, size)) {
    subsetsSeen++;
    const correct = subset.map((i) => samples[i]).filter((s) => s.correct);
    if (correct.length) covered++;
    distinct += new Set(correct.map((s) => s.solution)).size;
  }
  return { coverage: covered / subsetsSeen, diversity: distinct / subsetsSeen };
}

function expectClose(actual: number, expected: number, what: string) {
  if (Math.abs(actual - expected) > TOLERANCE) {
    expect.fail(`${what}: ${actual} but brute force gives ${expected}`);
  }
}

describe('solutionIdentity (the unique-solution definition)', () => {
  it('ignores whitespace only', () => {
    const random = seededRandom(7);
    for (const canonical of CANONICAL) {
      for (let i = 0; i < 20; i++) expect(solutionIdentity(respace(random, canonical))).toBe(canonical);
    }
    expect(new Set(CANONICAL.map(solutionIdentity)).size).toBe(CANONICAL.length);
  });
});

describe('coverage@k and diversity@k per question', () => {
  it('equal the brute-force mean over all k-subsets at every k, on 400 random questions with S <= 8', () => {
    const random = seededRandom(20240816);
    let checked = 0;
    for (let c = 0; c < 400; c++) {
      const size = random.int(1, 8);
      const { question, generated } = randomQuestion(random, `q${c}`, size);
      for (let k = 1; k <= size; k++) {
        const exact = bruteForce(generated, k);
        expectClose(questionCoverageAtK(question, k), exact.coverage, `case ${c} S=${size} coverage@${k}`);
        expectClose(questionDiversityAtK(question, k), exact.diversity, `case ${c} S=${size} diversity@${k}`);
        checked++;
      }
      // Past S every k-subset is the whole set.
      const whole = bruteForce(generated, size);
      expectClose(questionCoverageAtK(question, size + 3), whole.coverage, `case ${c} coverage past S`);
      expectClose(questionDiversityAtK(question, size + 3), whole.diversity, `case ${c} diversity past S`);
    }
    expect(checked).toBeGreaterThan(1000);
  });

  it('all wrong: 0 at every k; all right and all distinct: coverage 1 and diversity k', () => {
    const distinct = (correct: boolean): QuestionSamples => ({
      questionId: 'q',
      samples: CANONICAL.map((text) => ({ correct, text })),
    });
    for (let k = 1; k <= CANONICAL.length; k++) {
      expect(questionCoverageAtK(distinct(false), k)).toBe(0);
      expect(questionDiversityAtK(distinct(false), k)).toBe(0);
      expect(questionCoverageAtK(distinct(true), k)).toBe(1);
      expectClose(questionDiversityAtK(distinct(true), k), k, `diversity@${k}`);
    }
  });

  it('all right, one solution written eight ways: diversity 1 at every k', () => {
    const random = seededRandom(3);
    const question: QuestionSamples = {
      questionId: 'q',
      samples: Array.from({ length: 8 }, () => ({ correct: true, text: respace(random, 'so x = 2') })),
    };
    for (let k = 1; k <= 8; k++) expectClose(questionDiversityAtK(question, k), 1, `diversity@${k}`);
  });

  it('one correct sample of S: coverage and diversity are k/S', () => {
    const samples = Array.from({ length: 7 }, (_, i) => ({ correct: i === 4, text: `s${i}` }));
    for (let k = 1; k <= 7; k++) {
      expectClose(questionCoverageAtK({ questionId: 'q', samples }, k), k / 7, `coverage@${k}`);
      expectClose(questionDiversityAtK({ questionId: 'q', samples }, k), k / 7, `diversity@${k}`);
    }
  });

  it('a question without samples has 0 coverage and diversity', () => {
    expect(questionCoverageAtK({ questionId: 'q', samples: [] }, 1)).toBe(0);
    expect(questionDiversityAtK({ questionId: 'q', samples: [] }, 1)).toBe(0);
  });
});

describe('sourceMetrics: curves over k = 1..S, overall and per level', () => {
  const LEVELS = ['Level 1', 'Level 2', 'Level 5', undefined];

  /**
   * Means of the brute-force values; diversity over solved questions divides the same sum by the number of
   * questions with a correct sample among all of theirs (0 when there is none).
   */
  function meanBruteForce(generated: GeneratedSample[][], k: number) {
    const values = generated.map((samples) => bruteForce(samples, k));
    const sum = (pick: (v: { coverage: number; diversity: number }) => number) =>
      values.reduce((total, v) => total + pick(v), 0);
    const solved = generated.filter((samples) => samples.some((s) => s.correct)).length;
    return {
      coverage: values.length ? sum((v) => v.coverage) / values.length : 0,
      diversity: values.length ? sum((v) => v.diversity) / values.length : 0,
      diversitySolved: solved ? sum((v) => v.diversity) / solved : 0,
      solved,
    };
  }

  it('match brute force on 60 random sources, with mixed S and levels', () => {
    const random = seededRandom(2408);
    for (let c = 0; c < 60; c++) {
      const count = random.int(1, 7);
      const equalSizes = random.next() < 0.5;
      const baseSize = random.int(1, 7);
      const cases = Array.from({ length: count }, (_, i) =>
        randomQuestion(
          random,
          `q${i}`,
          equalSizes ? baseSize : random.int(1, 8),
          random.next() < 0.2 ? undefined : random.pick(LEVELS),
        ),
      );
      const questions = cases.map((q) => q.question);
      const metrics = sourceMetrics(questions);
      const maxK = Math.min(...questions.map((q) => q.samples.length));
      expect(metrics.samplesPerQuestion).toBe(maxK);
      expect(metrics.questions).toBe(count);
      expect(metrics.samples).toBe(cases.reduce((sum, q) => sum + q.generated.length, 0));
      expect(metrics.correctSamples).toBe(
        cases.reduce((sum, q) => sum + q.generated.filter((s) => s.correct).length, 0),
      );
      expect(metrics.coverage.map((p) => p.k)).toEqual(Array.from({ length: maxK }, (_, i) => i + 1));
      expect(metrics.diversity.map((p) => p.k)).toEqual(Array.from({ length: maxK }, (_, i) => i + 1));
      expect(metrics.diversitySolved.map((p) => p.k)).toEqual(Array.from({ length: maxK }, (_, i) => i + 1));
      for (let k = 1; k <= maxK; k++) {
        const exact = meanBruteForce(
          cases.map((q) => q.generated),
          k,
        );
        expect(metrics.solvedQuestions).toBe(exact.solved);
        expectClose(metrics.coverage[k - 1].value, exact.coverage, `source ${c} coverage@${k}`);
        expectClose(metrics.diversity[k - 1].value, exact.diversity, `source ${c} diversity@${k}`);
        expectClose(
          metrics.diversitySolved[k - 1].value,
          exact.diversitySolved,
          `source ${c} diversity over solved@${k}`,
        );
      }

      const levels = [...new Set(questions.map((q) => q.level).filter((l) => l !== undefined))].sort();
      expect(Object.keys(metrics.byLevel)).toEqual(levels);
      for (const level of levels) {
        const inLevel = cases.filter((q) => q.question.level === level);
        const entry = metrics.byLevel[level];
        expect(entry.questions).toBe(inLevel.length);
        // Per level the curves run to the source's S, not the level's own minimum.
        expect(entry.coverage).toHaveLength(maxK);
        expect(entry.diversity).toHaveLength(maxK);
        for (let k = 1; k <= maxK; k++) {
          const exact = meanBruteForce(
            inLevel.map((q) => q.generated),
            k,
          );
          expect(entry.solvedQuestions).toBe(exact.solved);
          expectClose(entry.coverage[k - 1].value, exact.coverage, `source ${c} ${level} coverage@${k}`);
          expectClose(entry.diversity[k - 1].value, exact.diversity, `source ${c} ${level} diversity@${k}`);
          expectClose(
            entry.diversitySolved[k - 1].value,
            exact.diversitySolved,
            `source ${c} ${level} diversity over solved@${k}`,
          );
        }
      }
    }
  });

  it('all wrong and all right sources', () => {
    const make = (correct: boolean) =>
      Array.from({ length: 3 }, (_, q) => ({
        questionId: `q${q}`,
        level: `Level ${q % 2}`,
        samples: Array.from({ length: 5 }, (_, i) => ({ correct, text: `q${q} solution ${i}` })),
      }));
    const wrong = sourceMetrics(make(false));
    expect(wrong.correctSamples).toBe(0);
    expect(wrong.coverage.map((p) => p.value)).toEqual([0, 0, 0, 0, 0]);
    expect(wrong.diversity.map((p) => p.value)).toEqual([0, 0, 0, 0, 0]);
    expect(wrong.solvedQuestions).toBe(0);
    expect(wrong.diversitySolved.map((p) => p.value)).toEqual([0, 0, 0, 0, 0]);
    expect(wrong.byLevel['Level 1'].coverage.map((p) => p.value)).toEqual([0, 0, 0, 0, 0]);
    const right = sourceMetrics(make(true));
    expect(right.correctSamples).toBe(15);
    expect(right.coverage.map((p) => p.value)).toEqual([1, 1, 1, 1, 1]);
    right.diversity.forEach((p, i) => expectClose(p.value, i + 1, `diversity@${i + 1}`));
    expect(right.byLevel['Level 0'].questions).toBe(2);
    right.byLevel['Level 0'].diversity.forEach((p, i) =>
      expectClose(p.value, i + 1, `level diversity@${i + 1}`),
    );
  });

  it('over solved questions: half the questions unsolved doubles the all-questions figure', () => {
    const questions: QuestionSamples[] = Array.from({ length: 4 }, (_, q) => ({
      questionId: `q${q}`,
      samples: Array.from({ length: 3 }, (_, i) => ({ correct: q < 2, text: `q${q} solution ${i}` })),
    }));
    const metrics = sourceMetrics(questions);
    expect(metrics.solvedQuestions).toBe(2);
    metrics.diversity.forEach((p, i) => expectClose(p.value, (i + 1) / 2, `diversity@${i + 1}`));
    metrics.diversitySolved.forEach((p, i) => expectClose(p.value, i + 1, `solved diversity@${i + 1}`));
  });

  it('no questions: no curves; curves over no questions are 0', () => {
    expect(sourceMetrics([])).toEqual({
      questions: 0,
      samplesPerQuestion: 0,
      samples: 0,
      correctSamples: 0,
      solvedQuestions: 0,
      coverage: [],
      diversity: [],
      diversitySolved: [],
      byLevel: {},
    });
    expect(coverageCurve([], 2)).toEqual([
      { k: 1, value: 0 },
      { k: 2, value: 0 },
    ]);
    expect(diversityCurve([], 1)).toEqual([{ k: 1, value: 0 }]);
  });
});
