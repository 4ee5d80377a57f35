// The experiment's first activity: the problem set and the plan, recorded in the run directory.
import { ApplicationFailure } from '@temporalio/common';
import type { ExperimentConfig, ProblemsConfig, Source } from '../core/config.js';
import { failure, FailureType } from '../core/failures.js';
import { EVAL_PROBLEMS_KEY, PLAN_KEY, PROBLEMS_KEY, SAMPLES_DIR } from '../core/layout.js';
import type { Plan } from '../core/plan.js';
import { promptTokenStats } from '../core/prompt-stats.js';
import type { Problem } from '../core/records.js';
import { planExperiment } from './planning.js';
import { readProblemSet } from './problems.js';
import { forgetRun } from './run-data.js';
import { openStore, readJsonl, sha256, toJsonl, writeJson } from './store.js';

export interface PreparedRun {
  plan: Plan;
  questions: number;
  problemsSha256: string;
  /** Per source, the sum over questions of an upper bound on one request's prompt tokens. */
  promptTokensUpperBoundSum: Record<Source, number>;
}

export async function prepareRun(input: { runDir: string; config: ExperimentConfig }): Promise<PreparedRun> {
  const store = openStore(input.runDir);
  const planned = await nonRetryable(() => planExperiment(input.config));
  const body = toJsonl(planned.problems);
  const existing = await readJsonl<Problem>(store, PROBLEMS_KEY);
  if (existing && toJsonl(existing) !== body && (await store.exists(SAMPLES_DIR))) {
    throw failure(
      FailureType.RunDirMismatch,
      `${store.location} already holds samples of a different problem set; use a new runDir`,
    );
  }
  await store.write(PROBLEMS_KEY, body);
  if (input.config.evaluation) {
    const testProblems = await readProblemSetOrFail(input.config.evaluation.problems);
    const training = new Set(planned.problems.map((p) => p.question.trim()));
    const leaked = testProblems.filter((p) => training.has(p.question.trim()));
    if (leaked.length) {
      throw failure(
        FailureType.TestSetLeak,
        `evaluation.problems: ${leaked.length} test question(s) also appear in the training problems ` +
          `(first: ${leaked[0].id}); keep the test split out of the data that builds finetuning sets`,
      );
    }
    await store.write(EVAL_PROBLEMS_KEY, toJsonl(testProblems));
  }
  forgetRun(store.location);
  await writeJson(store, PLAN_KEY, planned.plan);
  const stats = promptTokenStats(input.config, planned.problems);
  return {
    plan: planned.plan,
    questions: planned.problems.length,
    problemsSha256: sha256(body),
    promptTokensUpperBoundSum: { wc: stats.wc.upperBoundPerRequestSum, se: stats.se.upperBoundPerRequestSum },
  };
}

/**
 * Bad data or an unaffordable plan will not fix itself on retry. The failure's type is the error's class:
 * FailureType.DatasetError or FailureType.PlanError.
 */
async function nonRetryable<T>(work: () => Promise<T>): Promise<T> {
  try {
    return await work();
  } catch (error) {
    throw ApplicationFailure.fromError(error, { nonRetryable: true });
  }
}

function readProblemSetOrFail(config: ProblemsConfig): Promise<Problem[]> {
  return nonRetryable(() => readProblemSet(config));
}
