// The experiment's first activity: the problem set and the plan, recorded in the run directory.
import type { ExperimentConfig, Source } from '../core/config.js';
import type { Plan } from '../core/plan.js';
import { planExperiment, promptTokenStats } from './planning.js';
import { forgetRun, PROBLEMS_KEY } from './run-data.js';
import { openStore, readJsonl, sha256, toJsonl, writeJson } from './store.js';
import type { Problem } from '../core/records.js';
import { ApplicationFailure } from '@temporalio/common';

export interface PreparedRun {
  plan: Plan;
  questions: number;
  problemsSha256: string;
  /** Per source, the sum over questions of an upper bound on one request's prompt tokens. */
  promptTokensUpperBoundSum: Record<Source, number>;
}

export async function prepareRun(input: { runDir: string; config: ExperimentConfig }): Promise<PreparedRun> {
  const store = openStore(input.runDir);
  let planned;
  try {
    planned = await planExperiment(input.config);
  } catch (error) {
    // Bad data or an unaffordable plan will not fix itself on retry.
    throw ApplicationFailure.create({ type: (error as Error).name, message: (error as Error).message, nonRetryable: true });
  }
  const body = toJsonl(planned.problems);
  const existing = await readJsonl<Problem>(store, PROBLEMS_KEY);
  if (existing && toJsonl(existing) !== body && (await store.exists('samples'))) {
    throw ApplicationFailure.create({
      type: 'RunDirMismatch',
      message: `${store.location} already holds samples of a different problem set; use a new runDir`,
      nonRetryable: true,
    });
  }
  await store.write(PROBLEMS_KEY, body);
  forgetRun(store.location);
  await writeJson(store, 'plan.json', planned.plan);
  const stats = promptTokenStats(input.config, planned.problems);
  return {
    plan: planned.plan,
    questions: planned.problems.length,
    problemsSha256: sha256(body),
    promptTokensUpperBoundSum: { wc: stats.wc.upperBoundPerRequestSum, se: stats.se.upperBoundPerRequestSum },
  };
}

