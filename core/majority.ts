// maj@k (majority voting, "self-consistency"): k solutions are sampled, their final answers vote, and the
// question counts as solved when the most frequent answer is correct. The paper reports it for k in
// {1, 4, 8, 16} at temperature 0.7 beside greedy pass@1.
//
// Estimator. With n >= k samples drawn per question, maj@k is the expected vote outcome over every
// k-subset of those n samples, each equally likely (as coverage@k / pass@k are computed from n samples,
// Chen et al. 2021). The samples are independent draws, so this average is an unbiased estimate of maj@k
// with k fresh samples, with less variance than using any one subset; when n == k it is the vote over all
// n samples. It is computed exactly (no enumeration, no randomness): the samples are grouped by answer,
// and the hypergeometric probabilities of each group's share of a k-subset are summed by dynamic
// programming.
//
// Voting rules:
// - every correct answer is one answer: they all equal the reference, so they agree with each other even
//   when written differently ("1/2" and "0.5");
// - wrong answers vote by their normalised form; a sample with no extracted answer does not vote;
// - a tie for the most votes is broken uniformly at random, so a correct answer tied with t wrong ones
//   counts 1 / (t + 1) (the expectation over the coin flip, so the result stays deterministic);
// - a subset in which nothing voted is wrong.

export const MAJORITY_DEFINITION =
  'maj@k: the fraction of test questions whose most frequent final answer among k sampled solutions is ' +
  'correct (ties broken at random, counted as their expectation; a solution with no final answer does not ' +
  'vote). With n >= k samples drawn per question it is averaged exactly over every k-subset of the n ' +
  'samples (unbiased for k fresh samples); with n == k it is the vote over all n.';

/** One sampled solution as the vote sees it. */
export interface Vote {
  /** The normalised final answer; null when none was extracted. */
  answer: string | null;
  correct: boolean;
}

/** C(n, k) as a float (exact for the sizes used here, ratios stay accurate beyond). */
function choose(n: number, k: number): number {
  if (k < 0 || k > n) return 0;
  const m = Math.min(k, n - k);
  let result = 1;
  for (let i = 1; i <= m; i++) result = (result * (n - m + i)) / i;
  return result;
}

/** Expected maj@k of one question over the k-subsets of its samples (see the module comment). */
export function majorityAtK(votes: readonly Vote[], k: number): number {
  const n = votes.length;
  if (!Number.isInteger(k) || k < 1 || k > n) {
    throw new RangeError(`maj@${k} needs 1 <= k <= samples (${n})`);
  }
  let correct = 0;
  let silent = 0;
  const wrongGroups = new Map<string, number>();
  for (const vote of votes) {
    if (vote.correct) correct++;
    else if (vote.answer === null) silent++;
    else wrongGroups.set(vote.answer, (wrongGroups.get(vote.answer) ?? 0) + 1);
  }
  const groups = [...wrongGroups.values()];
  let favourable = 0;
  for (let forCorrect = 1; forCorrect <= Math.min(k, correct); forCorrect++) {
    const rest = k - forCorrect;
    // ways[j][t]: ways to pick j samples from the wrong groups seen so far, no group above `forCorrect`
    // votes, t groups at exactly `forCorrect` (tied with the correct answer).
    let ways: number[][] = [[1]];
    for (const size of groups) {
      const next: number[][] = [];
      for (let j = 0; j < ways.length; j++) {
        for (let t = 0; t < ways[j].length; t++) {
          const w = ways[j][t];
          if (!w) continue;
          for (let x = 0; x <= Math.min(size, forCorrect, rest - j); x++) {
            const row = (next[j + x] ??= []);
            const tied = t + (x === forCorrect ? 1 : 0);
            row[tied] = (row[tied] ?? 0) + w * choose(size, x);
          }
        }
      }
      ways = next;
    }
    let credit = 0;
    for (let j = 0; j < ways.length; j++) {
      const fill = choose(silent, rest - j);
      if (!fill) continue;
      for (let t = 0; t < ways[j].length; t++) credit += ((ways[j][t] ?? 0) * fill) / (t + 1);
    }
    favourable += choose(correct, forCorrect) * credit;
  }
  return favourable / choose(n, k);
}

export interface MajorityPoint {
  k: number;
  /** Mean over test questions of maj@k; null when fewer than k samples were drawn for some question. */
  accuracy: number | null;
}

/** The maj@k curve over questions: for each k, the mean of majorityAtK over questions. */
export function majorityCurve(
  questions: ReadonlyArray<readonly Vote[]>,
  ks: readonly number[],
): MajorityPoint[] {
  return ks.map((k) => {
    if (!questions.length || questions.some((votes) => votes.length < k)) return { k, accuracy: null };
    let sum = 0;
    for (const votes of questions) sum += majorityAtK(votes, k);
    return { k, accuracy: sum / questions.length };
  });
}
