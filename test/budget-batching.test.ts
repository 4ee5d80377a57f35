// Budgeted modes draw several rounds of a batch in one activity (`sampling.roundsPerActivity`, requests of
// up to maxN choices), while the worst case of all of them fits: the activities of a run are bounded by
// batches x rounds / roundsPerActivity (plus the last few steps and the top-up), not by the samples, and
// the budget is never passed.
import { describe, expect, it } from 'vitest';
import { readdir } from 'node:fs/promises';
import path from 'node:path';
import { samplesDir } from '../core/layout.js';
import type { Source } from '../core/config.js';
import { runStudy, useTemporal, wcSeModels, weakOnly } from './support/harness.js';

process.env.WCSE_TEST_API_KEY = 'sk-test-budget-batching';

/** Sampling activities that finished for a source: one batch meta each (retries write none of their own). */
async function samplingActivities(runDir: string, source: Source): Promise<number> {
  const dir = path.join(runDir, samplesDir(source));
  let count = 0;
  for (const round of await readdir(dir)) {
    count += (await readdir(path.join(dir, round))).filter((name) => name.endsWith('.meta.json')).length;
  }
  return count;
}

describe('budgeted sampling in steps of several rounds', () => {
  const temporal = useTemporal('budget-batching');

  it('keeps the activity count proportional to batches x rounds / roundsPerActivity, within budget', async () => {
    const questions = 4;
    const batchSize = 2;
    const roundsPerActivity = 8;
    // 30 worst-case WC rounds (12 tokens x 2 x 1e9 FLOPs each per question); answers are shorter, so more.
    const budget = 2 * 1e9 * 12 * questions * 30;
    const { result, runDir } = await runStudy(
      temporal,
      { name: 'budget-batching', questions, models: weakOnly({ reasoningWords: 5 }) },
      ({ server }) => ({
        models: wcSeModels(server.baseURL, { wc: 1e9, se: 3e9 }, { sampling: { maxTokens: 12 } }, 'weak'),
        budget: { mode: 'flops', flopsPerSource: budget },
        sampling: { batchSize, roundsPerActivity },
      }),
    );
    const batchesPerRound = Math.ceil(questions / batchSize);
    for (const source of ['wc', 'se'] as const) {
      const sampling = result.sampling[source];
      expect(sampling.ledger.flops).toBeLessThanOrEqual(budget);
      expect(result.verify[source].samples).toBe(sampling.ledger.samples);
      const rounds = sampling.rounds;
      const topUp = sampling.topUpSamples ?? 0;
      // The top-up: one sample per question, a batch at a time, a new batch at each pass over the questions.
      const topUpActivities = Math.ceil(topUp / batchSize) + Math.ceil(topUp / questions);
      const activities = await samplingActivities(runDir, source);
      console.log(
        `${source}: ${rounds} rounds, ${topUp} top-up samples, ${sampling.ledger.samples} samples, ` +
          `${activities} sampling activities (one round per activity: ${batchesPerRound * rounds} + top-up)`,
      );
      // Full steps of roundsPerActivity rounds, then, as the budget runs out, steps of the rounds that
      // still fit: each takes all of them, so a few more steps at most.
      const tailSteps = 4;
      expect(activities).toBeLessThanOrEqual(
        batchesPerRound * (Math.ceil(rounds / roundsPerActivity) + tailSteps) + topUpActivities,
      );
      if (source === 'wc') {
        expect(rounds).toBeGreaterThanOrEqual(30);
        // At least three times fewer than one round per activity.
        expect(3 * activities).toBeLessThanOrEqual(batchesPerRound * rounds + 3 * topUpActivities);
      }
    }
  });
});
