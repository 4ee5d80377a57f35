// Loading the problem set and computing the compute-matched plan: shared by `wcse plan` (nothing spent,
// nothing written) and the experiment's first activity (which records both in the run directory).
import type { ExperimentConfig } from '../core/config.js';
import { planComputeMatched, type Plan } from '../core/plan.js';
import { promptTokenStats } from '../core/prompt-stats.js';
import type { Problem } from '../core/records.js';
import { readProblemSet } from './problems.js';

export async function planExperiment(config: ExperimentConfig): Promise<{ plan: Plan; problems: Problem[] }> {
  const problems = await readProblemSet(config.problems);
  const plan = planComputeMatched(config, {
    questions: problems.length,
    promptTokens: promptTokenStats(config, problems),
  });
  return { plan, problems };
}
