// Model selection's one I/O step: score one checkpoint (a servable model id) on the validation problems,
// greedy pass@1, saved as paid for (sampled through the same path as training data) and never scored twice.
import type { DataSource, ModelConfig, ProblemsConfig } from '../../core/config.js';
import { failure, FailureType } from '../../core/failures.js';
import { selectionKeys, VALIDATION_PROBLEMS_KEY } from '../../core/layout.js';
import type { Problem, SampleRecord } from '../../core/records.js';
import type { Setup } from '../../core/results.js';
import type { ValidationScore } from '../../core/selection.js';
import { gradeCompletion, type AnswerFormat } from '../../core/verify/index.js';
import { sampleQuestions } from '../sampling.js';
import { openStore, readJson, readJsonl, writeJson, type ArtifactStore } from '../store.js';

export interface ValidateCheckpointInput {
  runDir: string;
  setup: Setup;
  data: DataSource;
  gridPoint: number;
  learningRate: number | null;
  jobId: string;
  step: number;
  /** The checkpoint as a served model: its id, endpoint, prompt and greedy sampling. */
  model: ModelConfig;
  /**
   * Unused: the validation problems are read from the run directory (VALIDATION_PROBLEMS_KEY), where
   * prepareRun recorded them after checking them against the training and test sets. Kept optional so
   * histories recorded with them still decode.
   */
  validation?: ProblemsConfig;
  testSets?: string[];
  format: AnswerFormat;
}

export async function validateCheckpoint(input: ValidateCheckpointInput): Promise<ValidationScore> {
  const store = openStore(input.runDir);
  const keys = selectionKeys(input.setup, input.data, input.gridPoint, input.step);
  const finished = await readJson<ValidationScore>(store, keys.result);
  if (finished) return finished;
  const problems = await validationProblems(store);
  const summary = await sampleQuestions({
    store,
    key: keys.batch,
    label: `${input.setup}-on-${input.data}-lr${input.gridPoint}-step${input.step}`,
    model: input.model,
    questions: problems,
    samplesPerQuestion: 1,
    firstSampleIndex: 0,
    round: 0,
    countPromptTokens: false,
  });
  const samples = (await readJsonl<SampleRecord>(store, summary.artifact)) ?? [];
  const first = new Map<string, SampleRecord>();
  for (const sample of samples) if (sample.sampleIndex === 0) first.set(sample.questionId, sample);
  let correct = 0;
  for (const problem of problems) {
    const sample = first.get(problem.id);
    if (
      sample &&
      gradeCompletion(sample.text, problem.gold, input.format, { finishReason: sample.finishReason }).correct
    )
      correct++;
  }
  const score: ValidationScore = {
    gridPoint: input.gridPoint,
    learningRate: input.learningRate,
    step: input.step,
    model: input.model.model,
    jobId: input.jobId,
    n: problems.length,
    correct,
    accuracy: problems.length ? correct / problems.length : 0,
  };
  await writeJson(store, keys.result, score);
  return score;
}

/** The validation problems prepareRun checked (held out of training and test sets) and recorded. */
async function validationProblems(store: ArtifactStore): Promise<Problem[]> {
  const problems = await readJsonl<Problem>(store, VALIDATION_PROBLEMS_KEY);
  if (!problems?.length) {
    throw failure(
      FailureType.MissingArtifact,
      `${VALIDATION_PROBLEMS_KEY} is missing from ${store.location}: model selection needs the validation ` +
        'problems the prepare stage records (finetune.validation or problems.holdOut); run `wcse resume` to prepare again',
    );
  }
  return problems;
}
