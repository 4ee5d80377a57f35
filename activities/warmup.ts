// The warm-up stage's data (config `warmup`): the warm-up problems' reference solutions as chat finetuning
// examples in the evaluation prompt's format, refused when any warm-up question is also a study question.
import { ApplicationFailure } from '@temporalio/activity';
import { testSetsOf, type ExperimentConfig, type ProblemsConfig } from '../core/config.js';
import { toChatExample } from '../core/dataset.js';
import { failure, FailureType } from '../core/failures.js';
import { WARMUP_DATASET_KEY } from '../core/layout.js';
import type { Problem } from '../core/records.js';
import { warmupSolutionText } from '../core/warmup.js';
import { readHeldOutProblems, readProblemSet } from './problems.js';
import { openStore, sha256, toJsonl } from './store.js';

export interface BuildWarmupDatasetInput {
  runDir: string;
  config: ExperimentConfig;
}

export interface WarmupDataset {
  key: string;
  examples: number;
  sha256: string;
}

export async function buildWarmupDataset(input: BuildWarmupDatasetInput): Promise<WarmupDataset> {
  const { config } = input;
  const warmup = config.warmup;
  if (!warmup) throw failure(FailureType.BadRunData, 'buildWarmupDataset: the config has no warmup section');
  const problems = await readOrFail(warmup.problems);
  const study: Array<[string, ProblemsConfig, 'all' | 'heldOut']> = [
    ['problems', config.problems, 'all'],
    ['problems.holdOut', config.problems, 'heldOut'],
    ...testSetsOf(config.evaluation ?? {}).map(({ name, problems }): [string, ProblemsConfig, 'all'] => [
      config.evaluation?.testSets ? `evaluation.testSets.${name}` : 'evaluation.problems',
      problems,
      'all',
    ]),
    ...(config.finetune?.validation
      ? [['finetune.validation', config.finetune.validation, 'all'] as [string, ProblemsConfig, 'all']]
      : []),
  ];
  for (const [field, source, part] of study) {
    const other =
      part === 'all'
        ? await readOrFail({ ...source, limit: undefined })
        : await readOrFail(source, readHeldOutProblems);
    const questions = new Set(other.map((p) => p.question.trim()));
    const leaked = problems.filter((p) => questions.has(p.question.trim()));
    if (leaked.length) {
      throw failure(
        FailureType.TestSetLeak,
        `warmup.problems: ${leaked.length} warm-up question(s) also appear in ${field} (${source.path}; ` +
          `first: ${leaked[0].id}); warm-up problems must be disjoint from the study's`,
      );
    }
  }
  const prompt = config.evaluation?.prompt ?? { user: '{question}' };
  const body = toJsonl(
    problems.map((problem) =>
      toChatExample(
        {
          questionId: problem.id,
          question: problem.question,
          sampleIndex: 0,
          text: warmupSolutionText(problem.gold),
        },
        prompt,
      ),
    ),
  );
  await openStore(input.runDir).write(WARMUP_DATASET_KEY, body);
  return { key: WARMUP_DATASET_KEY, examples: problems.length, sha256: sha256(body) };
}

/** Bad problem files do not fix themselves on retry. */
async function readOrFail(
  config: ProblemsConfig,
  read: (config: ProblemsConfig) => Promise<Problem[]> = readProblemSet,
): Promise<Problem[]> {
  try {
    return await read(config);
  } catch (error) {
    throw ApplicationFailure.fromError(error, { nonRetryable: true });
  }
}
