// One setup of the study (Student-LM, WC-LM or SE-LM): finetune its model on WC data and on SE data with
// the same hyperparameters, then evaluate both finetuned models and the untouched base on the test split.
import {
  allHandlersFinished,
  condition,
  log,
  proxyActivities,
  type ActivityInterfaceFor,
} from '@temporalio/workflow';
import type * as activities from '../activities/index.js';
import type { DatasetManifest } from '../core/records.js';
import type { EvaluationConfig, FinetuneConfig, ModelConfig, Source } from '../core/config.js';
import type { EvalResult, FinetuneResult, Setup, SetupResult } from '../core/results.js';
import { evaluatedModel, safeId, type SetupRuns } from '../core/setups.js';
import type { AnswerFormat } from '../core/verify/index.js';
import { endpointActivityOptions, trainingActivityOptions } from './activity-options.js';
import { allOrCancel } from './all-or-cancel.js';

export interface FinetuneSetupInput {
  runDir: string;
  experimentId: string;
  setup: Setup;
  /** The model this setup finetunes (models.student, models.wc or models.se). */
  trainedModel: ModelConfig;
  datasets: Record<Source, DatasetManifest>;
  finetune: FinetuneConfig;
  evaluation: EvaluationConfig;
  format: AnswerFormat;
  heartbeatTimeoutSeconds: number;
  /** False when another setup finetunes the same base model and evaluates it (never pay twice). */
  evaluateBase: boolean;
}

export type { SetupRuns };

type Run = { finetune: FinetuneResult; evaluation: EvalResult };

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
}

export async function finetuneSetupWorkflow(input: FinetuneSetupInput): Promise<SetupRuns> {
  const context = setupContext(input);
  const skipped = skippedSources(input.datasets);
  if (Object.keys(skipped).length) log.info('Skipping data sources', { skipped });
  const done: { base: EvalResult | null; runs: Partial<Record<Source, Run>> } = { base: null, runs: {} };
  // Base evaluation and both trainings run side by side; the first failure cancels the others.
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
  ]);
  await condition(allHandlersFinished);
  return {
    setup: input.setup,
    trainedRole: input.setup,
    baseModel: context.baseModel,
    base: done.base,
    runs: { ...(done.runs.wc ? { wc: done.runs.wc } : {}), ...(done.runs.se ? { se: done.runs.se } : {}) },
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
      trainingActivityOptions(input.heartbeatTimeoutSeconds, input.finetune),
    ),
    evaluating: proxyActivities<typeof activities>(
      endpointActivityOptions(input.heartbeatTimeoutSeconds, '24 hours'),
    ),
  };
}

/** Why a data source is not trained on: it produced no training examples. */
function skippedSources(datasets: Record<Source, DatasetManifest>): SetupResult['skipped'] {
  const skipped: SetupResult['skipped'] = {};
  for (const data of ['wc', 'se'] as const) {
    if (datasets[data].train.examples === 0) {
      skipped[data] = `no correct ${data.toUpperCase()} solutions: nothing to finetune on`;
    }
  }
  return skipped;
}

function evaluate(
  context: SetupContext,
  evalId: string,
  kind: 'base' | 'finetuned',
  data: Source | null,
  model: ModelConfig,
): Promise<EvalResult> {
  const { input } = context;
  return context.evaluating.evaluateModel({
    runDir: input.runDir,
    evalId,
    kind,
    setup: input.setup,
    data,
    model,
    samples: input.evaluation.samples,
    batchSize: input.evaluation.batchSize,
    format: input.format,
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

async function trainAndEvaluate(context: SetupContext, data: Source): Promise<Run> {
  const { input } = context;
  const { finetune, setup } = input;
  const dataset = input.datasets[data];
  const job = await context.training.runFinetuneJob({
    runDir: input.runDir,
    experimentId: input.experimentId,
    setup,
    data,
    backend: finetune.backend,
    service: context.service,
    baseModel: context.baseModel,
    trainKey: dataset.train.key,
    validationKey: dataset.validation.examples > 0 ? dataset.validation.key : null,
    hyperparameters: finetune.hyperparameters,
    suffix: `${finetune.suffix}-${setup}-${data}`.slice(0, 40),
    pollIntervalSeconds: finetune.pollIntervalSeconds,
  });
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
