// One setup of the study (Student-LM, WC-LM or SE-LM): finetune its model on WC data and on SE data (and on
// the problems' human-written solutions, the GT baseline, with datasets.gold) with the same steps, batch
// size, learning-rate grid and checkpoint selection, then evaluate every finetuned model and the untouched
// base on the test split.
import {
  allHandlersFinished,
  condition,
  log,
  patched,
  proxyActivities,
  type ActivityInterfaceFor,
} from '@temporalio/workflow';
import type * as activities from '../activities/index.js';
import {
  answerFormatOf,
  testSetsOf,
  type EvaluationConfig,
  type FinetuneConfig,
  type DataSource,
  type ModelConfig,
} from '../core/config.js';
import { dataSourcesOf, datasetOf, type RunDatasets } from '../core/gold.js';
import type { EvalResult, FinetuneResult, OutputsFprResult, Setup, SetupResult } from '../core/results.js';
import { evaluatedModel, majorityPass, safeId, type SetupRuns } from '../core/setups.js';
import type { AnswerFormat } from '../core/verify/index.js';
import { endpointActivityOptions, onTaskQueue, trainingActivityOptions } from './activity-options.js';
import { allOrCancel } from './all-or-cancel.js';
import { trainingRequest, type TrainingRequest } from '../core/training.js';
import { selectBest, selectsModels, spacedCheckpoints, type ValidationScore } from '../core/selection.js';

export interface FinetuneSetupInput {
  runDir: string;
  experimentId: string;
  setup: Setup;
  /** The model this setup finetunes (models.student, models.wc or models.se). */
  trainedModel: ModelConfig;
  /** WC and SE data, and gold data with datasets.gold (the GT baseline). */
  datasets: RunDatasets;
  finetune: FinetuneConfig;
  evaluation: EvaluationConfig;
  format: AnswerFormat;
  heartbeatTimeoutSeconds: number;
  /** False when another setup finetunes the same base model and evaluates it (never pay twice). */
  evaluateBase: boolean;
  /** `verifier.lastNumberFallback` for grading test answers (absent: the answer format's default). */
  lastNumberFallback?: boolean;
  /** The task queues of fine-tuning and evaluation (core/task-queues.ts); absent: this workflow's queue. */
  taskQueues?: { finetune?: string; eval?: string };
  /** models.judge and the analysis judge's prompt, for evaluation.judgeOutputs; absent: no judge. */
  judge?: { model: ModelConfig; prompt: string };
}

export type { SetupRuns };

/**
 * Patch: the `gold` data source (datasets.gold) is finetuned and evaluated beside WC and SE data, and its
 * dataset is built in the experiment's datasets stage.
 */
export const GOLD_SOURCE_PATCH = 'gold-source';

/** Patch: with evaluation.judgeOutputs, each evaluation's correct greedy outputs are judged (judgeTestOutputs). */
export const JUDGE_OUTPUTS_PATCH = 'judge-finetuned-outputs';

type Run = { finetune: FinetuneResult; evaluation: EvalResult };

/** The judge, its prompt, and the sample of correct test outputs it rates per evaluation. */
type OutputsJudging = { judge: ModelConfig; prompt: string; sampleSize: number; seed: number };

/** Where one setup trains and serves, and the activities it calls. */
interface SetupContext {
  input: FinetuneSetupInput;
  /** The fine-tuning service. */
  service: { baseURL: string; apiKeyEnv: string | undefined; requestTimeoutSeconds: number };
  /** Where finetuned models are served. */
  serving: { baseURL: string; apiKeyEnv: string | undefined };
  /** The base model id as the fine-tuning service knows it. */
  baseModel: string;
  training: ActivityInterfaceFor<typeof activities>;
  evaluating: ActivityInterfaceFor<typeof activities>;
  /** How each evaluation's correct outputs are judged (evaluation.judgeOutputs and a judge); null: not. */
  judgeOutputs: OutputsJudging | null;
}

export async function finetuneSetupWorkflow(input: FinetuneSetupInput): Promise<SetupRuns> {
  const context = setupContext(input);
  // Histories from before the stage never judged test outputs.
  const { judgeOutputs } = input.evaluation;
  if (judgeOutputs && input.judge && patched(JUDGE_OUTPUTS_PATCH)) {
    context.judgeOutputs = { ...judgeOutputs, judge: input.judge.model, prompt: input.judge.prompt };
  }
  const skipped = skippedSources(input.datasets);
  if (Object.keys(skipped).length) log.info('Skipping data sources', { skipped });
  const done: { base: EvalResult | null; runs: Partial<Record<DataSource, Run>> } = { base: null, runs: {} };
  // Gold data (the GT baseline) is trained exactly like WC and SE data; histories from before it never had it.
  const gold = input.datasets.gold !== undefined && patched(GOLD_SOURCE_PATCH);
  // Base evaluation and every training run side by side; the first failure cancels the others.
  await allOrCancel<void>([
    async () => {
      if (input.evaluateBase) done.base = await evaluateBase(context);
    },
    async () => {
      if (!skipped.wc) done.runs.wc = await trainAndEvaluate(context, 'wc');
    },
    async () => {
      if (!skipped.se) done.runs.se = await trainAndEvaluate(context, 'se');
    },
    ...(gold
      ? [
          async () => {
            if (!skipped.gold) done.runs.gold = await trainAndEvaluate(context, 'gold');
          },
        ]
      : []),
  ]);
  await condition(allHandlersFinished);
  return {
    setup: input.setup,
    trainedRole: input.setup,
    baseModel: context.baseModel,
    base: done.base,
    runs: {
      ...(done.runs.wc ? { wc: done.runs.wc } : {}),
      ...(done.runs.se ? { se: done.runs.se } : {}),
      ...(done.runs.gold ? { gold: done.runs.gold } : {}),
    },
    skipped,
  };
}

function setupContext(input: FinetuneSetupInput): SetupContext {
  const { trainedModel } = input;
  const service = {
    baseURL: trainedModel.fineTuning?.baseURL ?? trainedModel.baseURL,
    apiKeyEnv: trainedModel.fineTuning?.apiKeyEnv ?? trainedModel.apiKeyEnv,
    requestTimeoutSeconds: trainedModel.requestTimeoutSeconds,
  };
  return {
    input,
    service,
    serving: {
      baseURL: trainedModel.fineTuning?.servingBaseURL ?? service.baseURL,
      apiKeyEnv: trainedModel.fineTuning?.servingApiKeyEnv ?? service.apiKeyEnv,
    },
    baseModel: trainedModel.fineTuning?.model ?? trainedModel.model,
    training: proxyActivities<typeof activities>(
      onTaskQueue(
        trainingActivityOptions(input.heartbeatTimeoutSeconds, input.finetune),
        input.taskQueues?.finetune,
      ),
    ),
    evaluating: proxyActivities<typeof activities>(
      onTaskQueue(endpointActivityOptions(input.heartbeatTimeoutSeconds, '24 hours'), input.taskQueues?.eval),
    ),
    judgeOutputs: null,
  };
}

/** Why a data source is not trained on: it produced no training examples. */
function skippedSources(datasets: RunDatasets): SetupResult['skipped'] {
  const skipped: SetupResult['skipped'] = {};
  for (const data of dataSourcesOf(datasets)) {
    if (datasetOf(datasets, data).train.examples === 0) {
      skipped[data] =
        data === 'gold'
          ? 'no training question has a human-written solution left after the validation split: nothing to finetune on'
          : `no correct ${data.toUpperCase()} solutions: nothing to finetune on`;
    }
  }
  return skipped;
}

/**
 * Evaluates a model on every test set, side by side; the result is the first (headline) set's, with every
 * set's result under `testSets` when there are several. A single split keeps its plain evalId.
 */
async function evaluate(
  context: SetupContext,
  evalId: string,
  kind: 'base' | 'finetuned',
  data: DataSource | null,
  model: ModelConfig,
): Promise<EvalResult> {
  const { input } = context;
  const sets = testSetsOf(input.evaluation);
  const results = await allOrCancel(
    sets.map(({ name, problems }) => async () => {
      const format = input.evaluation.testSets ? answerFormatOf(problems) : input.format;
      const result = await context.evaluating.evaluateModel({
        runDir: input.runDir,
        evalId: input.evaluation.testSets ? `${evalId}.${name}` : evalId,
        kind,
        setup: input.setup,
        data,
        model,
        samples: input.evaluation.samples,
        batchSize: input.evaluation.batchSize,
        format,
        testSet: name,
        majority: majorityPass(model, input.evaluation),
        lastNumberFallback: input.lastNumberFallback,
      });
      if (!context.judgeOutputs) return result;
      return { ...result, outputsFpr: await judgeOutputs(context, context.judgeOutputs, result, format) };
    }),
  );
  if (results.length === 1) return results[0];
  return { ...results[0], testSets: Object.fromEntries(results.map((result, i) => [sets[i].name, result])) };
}

/** The judged FPR of an evaluation's correct greedy outputs (evaluation.judgeOutputs). */
function judgeOutputs(
  context: SetupContext,
  judging: OutputsJudging,
  result: EvalResult,
  format: AnswerFormat,
): Promise<OutputsFprResult> {
  const { input } = context;
  const { evalId, testSet, fingerprint, kind, setup, data } = result;
  return context.evaluating.judgeTestOutputs({
    runDir: input.runDir,
    evaluation: { evalId, testSet, fingerprint, kind, setup, data },
    batchSize: input.evaluation.batchSize,
    format,
    lastNumberFallback: input.lastNumberFallback,
    ...judging,
  });
}

function evaluateBase(context: SetupContext): Promise<EvalResult> {
  const { trainedModel, evaluation } = context.input;
  return evaluate(
    context,
    `base-${safeId(trainedModel.model)}`,
    'base',
    null,
    evaluatedModel(trainedModel, evaluation),
  );
}

async function trainAndEvaluate(context: SetupContext, data: DataSource): Promise<Run> {
  const { input } = context;
  const { finetune, setup } = input;
  // Model selection (finetune.learningRates / checkpoints) trains a grid; without it, the one job as before.
  const job = selectsModels(finetune)
    ? await trainAndSelect(context, data)
    : await context.training.runFinetuneJob(
        finetuneJobInput(context, data, {
          hyperparameters: finetune.hyperparameters,
          suffix: `${finetune.suffix}-${setup}-${data}`.slice(0, 40),
        }),
      );
  log.info('Finetuned', { setup, data, model: job.fineTunedModel });
  const evaluation = await evaluate(
    context,
    `${setup}-on-${data}`,
    'finetuned',
    data,
    evaluatedModel(input.trainedModel, input.evaluation, { model: job.fineTunedModel, ...context.serving }),
  );
  return { finetune: job, evaluation };
}

/** Matched training: the same steps and batch size for every data source of the setup (core/training.ts). */
function trainingInputs(context: SetupContext): {
  training: TrainingRequest;
  supportsSteps: boolean;
  params: number;
} {
  const { finetune, trainedModel } = context.input;
  return {
    training: trainingRequest(finetune),
    supportsSteps: trainedModel.fineTuning?.supportsSteps ?? true,
    params: trainedModel.params,
  };
}

type FinetuneJobInput = Parameters<ActivityInterfaceFor<typeof activities>['runFinetuneJob']>[0];

/** The fine-tuning job for one data source; `grid` (the grid point and checkpoints) under model selection. */
function finetuneJobInput(
  context: SetupContext,
  data: DataSource,
  job: Pick<FinetuneJobInput, 'hyperparameters' | 'suffix'> & {
    grid?: Pick<FinetuneJobInput, 'gridPoint' | 'checkpoints'>;
  },
): FinetuneJobInput {
  const { input } = context;
  const { finetune } = input;
  const dataset = datasetOf(input.datasets, data);
  return {
    runDir: input.runDir,
    experimentId: input.experimentId,
    setup: input.setup,
    data,
    backend: finetune.backend,
    service: context.service,
    baseModel: context.baseModel,
    trainKey: dataset.train.key,
    validationKey: dataset.validation.examples > 0 ? dataset.validation.key : null,
    hyperparameters: job.hyperparameters,
    ...trainingInputs(context),
    ...job.grid,
    suffix: job.suffix,
    pollIntervalSeconds: finetune.pollIntervalSeconds,
  };
}

/**
 * Model selection for one data source: one job per learning rate (each its own activity and files, so a
 * crash re-runs no finished job), every checkpoint scored on the validation problems (each its own activity
 * and result file), and the best checkpoint returned as the model to evaluate on the test set.
 */
async function trainAndSelect(context: SetupContext, data: DataSource): Promise<FinetuneResult> {
  const { finetune, setup } = context.input;
  const rates: Array<number | null> = finetune.learningRates ?? [
    finetune.hyperparameters.learningRate ?? null,
  ];
  const count = finetune.checkpoints ?? 1;
  const grid = await allOrCancel(
    rates.map((rate, gridPoint) => () => trainGridPoint(context, data, rate, gridPoint, count)),
  );
  const scores = grid.flatMap((point) => point.scores);
  const selected = selectBest(scores);
  log.info('Selected checkpoint', { setup, data, learningRate: selected.learningRate, step: selected.step });
  return {
    ...grid[selected.gridPoint].job,
    fineTunedModel: selected.model,
    selection: {
      learningRates: rates,
      checkpointsPerJob: count,
      validationQuestions: selected.n,
      grid: scores,
      selected,
    },
  };
}

/** One learning rate of the grid: its job, then `count` of its checkpoints scored on the validation problems. */
async function trainGridPoint(
  context: SetupContext,
  data: DataSource,
  rate: number | null,
  gridPoint: number,
  count: number,
): Promise<{ job: FinetuneResult; scores: ValidationScore[] }> {
  const { input } = context;
  const { finetune, setup } = input;
  // The validation problems are finetune.validation or the training file's held-out questions; the prepare
  // stage checked and recorded them, and each checkpoint's score reads them from the run directory.
  const validationFormat = finetune.validation ? answerFormatOf(finetune.validation) : input.format;
  const tail = `${setup}-${data}-lr${gridPoint}`;
  const job = await context.training.runFinetuneJob(
    finetuneJobInput(context, data, {
      hyperparameters:
        rate === null ? finetune.hyperparameters : { ...finetune.hyperparameters, learningRate: rate },
      suffix: `${finetune.suffix.slice(0, 39 - tail.length)}-${tail}`,
      grid: { gridPoint, checkpoints: count },
    }),
  );
  const checkpoints = spacedCheckpoints(
    job.checkpoints ?? [{ step: job.training?.steps ?? 0, model: job.fineTunedModel }],
    count,
  );
  const scores = await allOrCancel<ValidationScore>(
    checkpoints.map(
      (checkpoint) => () =>
        context.evaluating.validateCheckpoint({
          runDir: input.runDir,
          setup,
          data,
          gridPoint,
          learningRate: rate,
          jobId: job.jobId,
          step: checkpoint.step,
          model: validationModel(context, checkpoint.model),
          format: validationFormat,
        }),
    ),
  );
  return { job, scores };
}

/** A checkpoint served for validation: the evaluation's prompt, greedy. */
function validationModel(context: SetupContext, model: string): ModelConfig {
  const { trainedModel, evaluation } = context.input;
  const served = evaluatedModel(trainedModel, evaluation, { model, ...context.serving });
  return { ...served, sampling: { ...served.sampling, temperature: 0 } };
}
