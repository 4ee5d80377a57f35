// The experiment's first activity: the problem set and the plan, recorded in the run directory.
import { Context } from '@temporalio/activity';
import { ApplicationFailure } from '@temporalio/common';
import {
  SOURCES,
  testSetsOf,
  type ExperimentConfig,
  type ProblemsConfig,
  type Source,
} from '../core/config.js';
import { failure, FailureType } from '../core/failures.js';
import {
  EXPERIMENT_KEY,
  evalProblemsKey,
  OWNER_KEY,
  PLAN_KEY,
  PROBLEMS_KEY,
  SAMPLES_DIR,
  samplesDir,
  VALIDATION_PROBLEMS_KEY,
} from '../core/layout.js';
import type { Plan } from '../core/plan.js';
import { promptTokenStats } from '../core/prompt-stats.js';
import type { Problem } from '../core/records.js';
import { goldSolutionsOf, writeGoldSolutions } from './gold-dataset.js';
import { planExperiment } from './planning.js';
import { readHeldOutProblems, readProblemSet } from './problems.js';
import { forgetRun } from './run-data.js';
import { openStore, readJson, readJsonl, sha256, toJsonl, writeJson, type ArtifactStore } from './store.js';

export interface PreparedRun {
  plan: Plan;
  questions: number;
  problemsSha256: string;
  /** Per source, the sum over questions of an upper bound on one request's prompt tokens. */
  promptTokensUpperBoundSum: Record<Source, number>;
}

/**
 * Checks everything first and writes only once every check passed, so a rejected config leaves the run
 * directory as it was. `experimentId` (default: the calling workflow's id) must be the directory's owner.
 */
export async function prepareRun(input: {
  runDir: string;
  config: ExperimentConfig;
  experimentId?: string;
}): Promise<PreparedRun> {
  const store = openStore(input.runDir);
  const experimentId = input.experimentId ?? callingWorkflowId();
  if (experimentId !== null) await checkRunDirOwner(store, experimentId);
  const planned = await nonRetryable(() => planExperiment(input.config));
  const body = toJsonl(planned.problems);
  const existing = await readJsonl<Problem>(store, PROBLEMS_KEY);
  if (existing && toJsonl(existing) !== body && (await store.exists(SAMPLES_DIR))) {
    throw failure(
      FailureType.RunDirMismatch,
      `${store.location} already holds samples of a different problem set; use a new runDir`,
    );
  }
  await checkSameSampling(store, input.config, planned.plan);
  const testSets: Array<{ name: string; problems: Problem[] }> = [];
  if (input.config.evaluation) {
    const training = new Set(planned.problems.map((p) => p.question.trim()));
    for (const { name, problems } of testSetsOf(input.config.evaluation)) {
      const testProblems = await readProblemSetOrFail(problems);
      const leaked = testProblems.filter((p) => training.has(p.question.trim()));
      if (leaked.length) {
        const field = input.config.evaluation.testSets
          ? `evaluation.testSets.${name}`
          : 'evaluation.problems';
        throw failure(
          FailureType.TestSetLeak,
          `${field}: ${leaked.length} test question(s) also appear in the training problems ` +
            `(first: ${leaked[0].id}); keep the test split out of the data that builds finetuning sets`,
        );
      }
      testSets.push({ name, problems: testProblems });
    }
  }
  const validation = await validationProblems(input.config, planned.problems, testSets);
  const gold = await nonRetryable(async () => goldSolutionsOf(input.config, planned.problems));
  // Every check passed: only now is anything written.
  if (experimentId !== null) {
    await claimRunDir(store, experimentId);
    await writeJson(store, EXPERIMENT_KEY, { experimentId, runDir: input.runDir, config: input.config });
  }
  await store.write(PROBLEMS_KEY, body);
  for (const { name, problems } of testSets) await store.write(evalProblemsKey(name), toJsonl(problems));
  if (validation) await store.write(VALIDATION_PROBLEMS_KEY, toJsonl(validation));
  if (gold) await writeGoldSolutions(store, gold);
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

/** The owner of a run directory: the experiment that first prepared it. */
export interface RunDirOwner {
  experimentId: string;
  claimedAt: string;
}

/** The id of the workflow that called this activity, or null outside an activity (a benchmark). */
function callingWorkflowId(): string | null {
  try {
    return Context.current().info.workflowExecution?.workflowId ?? null;
  } catch {
    return null;
  }
}

function ownedBy(store: ArtifactStore, owner: RunDirOwner, experimentId: string): Error {
  return failure(
    FailureType.RunDirOwned,
    `${store.location} belongs to experiment ${owner.experimentId} (${OWNER_KEY}), not ${experimentId}: ` +
      `resume it with \`wcse resume ${owner.experimentId}\`, or give this experiment a new runDir`,
  );
}

/** Refuses a run directory that another experiment owns (its owner.json names another id). */
export async function checkRunDirOwner(store: ArtifactStore, experimentId: string): Promise<void> {
  const owner = await readJson<RunDirOwner>(store, OWNER_KEY);
  if (owner && owner.experimentId !== experimentId) throw ownedBy(store, owner, experimentId);
}

/** Makes `experimentId` the directory's owner unless it has one; two racing experiments: one wins. */
async function claimRunDir(store: ArtifactStore, experimentId: string): Promise<void> {
  const owner: RunDirOwner = { experimentId, claimedAt: new Date().toISOString() };
  if (await store.createOnce(OWNER_KEY, JSON.stringify(owner, null, 2) + '\n')) return;
  await checkRunDirOwner(store, experimentId);
}

/**
 * With samples in the run directory, the experiment recorded there must sample the same way: the same
 * models, prompt and sampling settings, batch size and samples per round. Checked before anything is
 * written (the batches' fingerprints would refuse the samples later, after plan.json was overwritten).
 */
async function checkSameSampling(store: ArtifactStore, config: ExperimentConfig, plan: Plan): Promise<void> {
  const recorded = await readJson<{ config?: ExperimentConfig }>(store, EXPERIMENT_KEY);
  const recordedPlan = await readJson<Plan>(store, PLAN_KEY);
  for (const source of SOURCES) {
    if (!(await store.exists(samplesDir(source)))) continue;
    const differs: string[] = [];
    if (recorded?.config) {
      const before = recorded.config.models[source];
      const now = config.models[source];
      for (const field of ['model', 'baseURL', 'prompt', 'sampling', 'supportsN', 'maxN'] as const) {
        if (JSON.stringify(before[field]) !== JSON.stringify(now[field]))
          differs.push(`models.${source}.${field}`);
      }
      if (recorded.config.sampling.batchSize !== config.sampling.batchSize)
        differs.push('sampling.batchSize');
    }
    if (recordedPlan && recordedPlan[source].samplesPerRound !== plan[source].samplesPerRound) {
      differs.push(`the plan's ${source} samples per round`);
    }
    if (differs.length) {
      throw failure(
        FailureType.RunDirMismatch,
        `${store.location} holds ${source} samples drawn with another ${differs.join(', ')} than this ` +
          'config asks for; use a new runDir (or remove the old samples) instead of mixing them',
      );
    }
  }
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

/**
 * Model selection's validation problems: `finetune.validation`, else the training file's `holdOut`
 * questions; null when the run selects nothing. Refused when any is a training or a test question, before
 * anything is sampled.
 */
async function validationProblems(
  config: ExperimentConfig,
  training: Problem[],
  testSets: Array<{ name: string; problems: Problem[] }>,
): Promise<Problem[] | null> {
  const finetune = config.finetune;
  if (!finetune) return null;
  const field = finetune.validation ? 'finetune.validation' : 'problems.holdOut';
  const problems = finetune.validation
    ? await readProblemSetOrFail(finetune.validation)
    : await nonRetryable(() => readHeldOutProblems(config.problems));
  if (!problems.length) return null;
  const others: Array<[string, Problem[]]> = [
    ['training problems', training],
    ...testSets.map(({ name, problems }): [string, Problem[]] => [`test set ${name}`, problems]),
  ];
  for (const [what, other] of others) {
    const questions = new Set(other.map((p) => p.question.trim()));
    const leaked = problems.filter((p) => questions.has(p.question.trim()));
    if (leaked.length) {
      throw failure(
        FailureType.TestSetLeak,
        `${field}: ${leaked.length} validation question(s) also appear in the ${what} ` +
          `(first: ${leaked[0].id}); validation questions must be held out from both`,
      );
    }
  }
  return problems;
}

function readProblemSetOrFail(config: ProblemsConfig): Promise<Problem[]> {
  return nonRetryable(() => readProblemSet(config));
}
