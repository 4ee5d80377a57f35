// maj@k against brute force: every k-subset enumerated, ties split evenly, on random vote patterns.
import { describe, expect, it } from 'vitest';
import { majorityAtK, majorityCurve, type Vote } from '../../core/majority.js';
import { seededRandom } from './random.js';

/** The definition, literally: average over all k-subsets of the vote with random tie-breaking. */
function bruteForce(votes: Vote[], k: number): number {
  let total = 0;
  let subsets = 0;
  const pick = (start: number, chosen: Vote[]) => {
    if (chosen.length === k) {
      subsets++;
      const counts = new Map<string, number>();
      for (const vote of chosen) {
        const key = vote.correct ? '<correct>' : vote.answer;
        if (key !== null) counts.set(key, (counts.get(key) ?? 0) + 1);
      }
      const top = Math.max(0, ...counts.values());
      const leaders = [...counts.entries()].filter(([, count]) => count === top);
      if (top > 0 && leaders.some(([key]) => key === '<correct>')) total += 1 / leaders.length;
      return;
    }
    for (let i = start; i < votes.length; i++) pick(i + 1, [...chosen, votes[i]]);
  };
  pick(0, []);
  return total / subsets;
}

describe('maj@k', () => {
  it('equals the brute-force average over k-subsets on random vote patterns', () => {
    const random = seededRandom(9);
    for (let trial = 0; trial < 150; trial++) {
      const n = random.int(1, 10);
      const answers = ['a', 'b', 'c'].slice(0, random.int(1, 3));
      const votes: Vote[] = Array.from({ length: n }, () => {
        const roll = random.next();
        if (roll < 0.35) return { answer: 'gold', correct: true };
        if (roll < 0.5) return { answer: null, correct: false };
        return { answer: random.pick(answers), correct: false };
      });
      for (let k = 1; k <= n; k++) {
        expect(majorityAtK(votes, k)).toBeCloseTo(bruteForce(votes, k), 12);
      }
    }
  });

  it('is the plain vote at k = n, the fraction correct at k = 1, and splits ties', () => {
    const votes: Vote[] = [
      { answer: '3', correct: true },
      { answer: '4', correct: false },
      { answer: '4', correct: false },
      { answer: null, correct: false },
    ];
    expect(majorityAtK(votes, 4)).toBe(0);
    expect(majorityAtK(votes, 1)).toBeCloseTo(1 / 4, 12);
    // Two correct answers written differently count as one answer; against two equal wrong ones: a tie.
    const tie: Vote[] = [
      { answer: '1/2', correct: true },
      { answer: '0.5', correct: true },
      { answer: '2', correct: false },
      { answer: '2', correct: false },
    ];
    expect(majorityAtK(tie, 4)).toBeCloseTo(0.5, 12);
    expect(() => majorityAtK(tie, 5)).toThrow(/k <= samples/);
  });

  it('averages over questions and leaves k beyond the samples drawn empty', () => {
    const right: Vote[] = [
      { answer: '1', correct: true },
      { answer: '1', correct: true },
    ];
    const wrong: Vote[] = [
      { answer: '2', correct: false },
      { answer: '1', correct: true },
    ];
    expect(majorityCurve([right, wrong], [1, 2, 4])).toEqual([
      { k: 1, accuracy: (1 + 0.5) / 2 },
      { k: 2, accuracy: (1 + 0.5) / 2 },
      { k: 4, accuracy: null },
    ]);
  });
});
