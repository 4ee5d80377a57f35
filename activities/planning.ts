// Loading the problem set and computing the compute-matched plan: shared by `wcse plan` (nothing spent,
// nothing written) and the experiment's first activity (which records both in the run directory).
import { SOURCES, type ExperimentConfig, type Source } from '../core/config.js';
import { planComputeMatched, type Plan, type PromptTokenStats } from '../core/plan.js';
import { buildMessages, promptTokensEstimate, promptTokensUpperBound } from '../core/prompt.js';
import type { Problem } from '../core/records.js';
import { readProblemSet } from './problems.js';

export function promptTokenStats(
  config: ExperimentConfig,
  problems: Problem[],
): Record<Source, PromptTokenStats> {
  const stats = {} as Record<Source, PromptTokenStats>;
  for (const source of SOURCES) {
    let expected = 0;
    let upper = 0;
    for (const problem of problems) {
      const messages = buildMessages(config.models[source].prompt, problem.question);
      expected += promptTokensEstimate(messages);
      upper += promptTokensUpperBound(messages);
    }
    stats[source] = { expectedPerRequestSum: expected, upperBoundPerRequestSum: upper };
  }
  return stats;
}

export async function planExperiment(config: ExperimentConfig): Promise<{ plan: Plan; problems: Problem[] }> {
  const problems = await readProblemSet(config.problems);
  const plan = planComputeMatched(config, {
    questions: problems.length,
    promptTokens: promptTokenStats(config, problems),
  });
  return { plan, problems };
}
