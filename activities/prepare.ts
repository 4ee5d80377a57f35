// The experiment's first activity: the problem set and the plan, recorded in the run directory.
import type { ExperimentConfig, ProblemsConfig, Source } from '../core/config.js';
import { readProblemSet } from './problems.js';
import { EVAL_PROBLEMS_KEY } from './evaluate.js';
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
  const planned = await nonRetryable(() => planExperiment(input.config));
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
  if (input.config.evaluation) {
    const testProblems = await readProblemSetOrFail(input.config.evaluation.problems);
    const training = new Set(planned.problems.map((p) => p.question.trim()));
    const leaked = testProblems.filter((p) => training.has(p.question.trim()));
    if (leaked.length) {
      throw ApplicationFailure.create({
        type: 'TestSetLeak',
        message:
          `evaluation.problems: ${leaked.length} test question(s) also appear in the training problems ` +
          `(first: ${leaked[0].id}); keep the test split out of the data that builds finetuning sets`,
        nonRetryable: true,
      });
    }
    await store.write(EVAL_PROBLEMS_KEY, toJsonl(testProblems));
  }
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

/** Bad data or an unaffordable plan will not fix itself on retry. */
async function nonRetryable<T>(work: () => Promise<T>): Promise<T> {
  try {
    return await work();
  } catch (error) {
    throw ApplicationFailure.create({
      type: (error as Error).name,
      message: (error as Error).message,
      nonRetryable: true,
    });
  }
}

function readProblemSetOrFail(config: ProblemsConfig): Promise<Problem[]> {
  return nonRetryable(() => readProblemSet(config));
}
