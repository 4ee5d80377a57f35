// Prompt-token sums over a problem set, per source: what the plan expects a round's prompts to cost and
// an upper bound for the budget check before the first round is observed.
import { SOURCES, type ExperimentConfig, type Source } from './config.js';
import type { PromptTokenStats } from './plan.js';
import { buildMessages, promptTokensEstimate, promptTokensUpperBound } from './prompt.js';
import type { Problem } from './records.js';

export function promptTokenStats(
  config: ExperimentConfig,
  problems: Problem[],
): Record<Source, PromptTokenStats> {
  const stats = {} as Record<Source, PromptTokenStats>;
  for (const source of SOURCES) {
    let expected = 0;
    let upper = 0;
    let upperMax = 0;
    for (const problem of problems) {
      const messages = buildMessages(config.models[source].prompt, problem.question);
      const bound = promptTokensUpperBound(messages);
      expected += promptTokensEstimate(messages);
      upper += bound;
      upperMax = Math.max(upperMax, bound);
    }
    stats[source] = {
      expectedPerRequestSum: expected,
      upperBoundPerRequestSum: upper,
      upperBoundPerRequestMax: upperMax,
    };
  }
  return stats;
}
