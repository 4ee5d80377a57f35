// One setup of the study (Student-LM, WC-LM or SE-LM): finetune its model on WC data and on SE data with
// the same hyperparameters, then evaluate both finetuned models and the untouched base on the test split.
import { ActivityCancellationType, proxyActivities } from '@temporalio/workflow';
import type * as activities from '../activities/index.js';
import type { DatasetManifest } from '../core/records.js';
import type { EvaluationConfig, FinetuneConfig, ModelConfig, Source } from '../core/config.js';
import { allOrCancel } from './all-or-cancel.js';
import type { EvalResult, FinetuneResult, Setup, SetupResult } from '../core/results.js';
import type { AnswerFormat } from '../core/verify/index.js';

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

/** A setup's result; `base` is null when another setup evaluated the same base model. */
export type SetupRuns = Omit<SetupResult, 'base'> & { base: EvalResult | null };

/** The model config evaluation uses: the served id and endpoint, the evaluation prompt and sampling. */
export function evaluatedModel(
  base: ModelConfig,
  evaluation: EvaluationConfig,
  served?: { model: string; baseURL: string; apiKeyEnv?: string },
): ModelConfig {
  return {
    ...base,
    ...(served ?? {}),
    prompt: { ...evaluation.prompt, fewShot: [] },
    sampling: {
      ...base.sampling,
      temperature: evaluation.temperature,
      maxTokens: evaluation.maxTokens ?? base.sampling.maxTokens,
    },
    fineTuning: undefined,
  };
}

/** A model id as a path segment. */
export function safeId(model: string): string {
  return model.replace(/[^A-Za-z0-9._-]+/g, '_');
}

export async function finetuneSetupWorkflow(input: FinetuneSetupInput): Promise<SetupRuns> {
  const { trainedModel, finetune, evaluation, setup } = input;
  const service = {
    baseURL: trainedModel.fineTuning?.baseURL ?? trainedModel.baseURL,
    apiKeyEnv: trainedModel.fineTuning?.apiKeyEnv ?? trainedModel.apiKeyEnv,
    requestTimeoutSeconds: trainedModel.requestTimeoutSeconds,
  };
  const serving = {
    baseURL: trainedModel.fineTuning?.servingBaseURL ?? service.baseURL,
    apiKeyEnv: trainedModel.fineTuning?.servingApiKeyEnv ?? service.apiKeyEnv,
  };
  const baseModel = trainedModel.fineTuning?.model ?? trainedModel.model;

  const training = proxyActivities<typeof activities>({
    startToCloseTimeout: `${finetune.maxJobHours} hours`,
    heartbeatTimeout: `${Math.max(input.heartbeatTimeoutSeconds, 3 * finetune.pollIntervalSeconds)} seconds`,
    // Wait for the activity to cancel the job at the service before the workflow reports cancelled.
    cancellationType: ActivityCancellationType.WAIT_CANCELLATION_COMPLETED,
    retry: {
      initialInterval: '5 seconds',
      backoffCoefficient: 2,
      maximumInterval: '5 minutes',
      maximumAttempts: 20,
    },
  });
  const evaluating = proxyActivities<typeof activities>({
    startToCloseTimeout: '24 hours',
    heartbeatTimeout: `${input.heartbeatTimeoutSeconds} seconds`,
    retry: {
      initialInterval: '1 second',
      backoffCoefficient: 2,
      maximumInterval: '5 minutes',
      maximumAttempts: 20,
    },
  });
  const evaluate = (evalId: string, kind: 'base' | 'finetuned', data: Source | null, model: ModelConfig) =>
    evaluating.evaluateModel({
      runDir: input.runDir,
      evalId,
      kind,
      setup,
      data,
      model,
      samples: evaluation.samples,
      batchSize: evaluation.batchSize,
      format: input.format,
    });

  const trainAndEvaluate = async (
    data: Source,
  ): Promise<{ finetune: FinetuneResult; evaluation: EvalResult }> => {
    const dataset = input.datasets[data];
    const job = await training.runFinetuneJob({
      runDir: input.runDir,
      experimentId: input.experimentId,
      setup,
      data,
      backend: finetune.backend,
      service,
      baseModel,
      trainKey: dataset.train.key,
      validationKey: dataset.validation.examples > 0 ? dataset.validation.key : null,
      hyperparameters: finetune.hyperparameters,
      suffix: `${finetune.suffix}-${setup}-${data}`.slice(0, 40),
      pollIntervalSeconds: finetune.pollIntervalSeconds,
    });
    const result = await evaluate(
      `${setup}-on-${data}`,
      'finetuned',
      data,
      evaluatedModel(trainedModel, evaluation, { model: job.fineTunedModel, ...serving }),
    );
    return { finetune: job, evaluation: result };
  };
  const skipped: SetupResult['skipped'] = {};
  for (const data of ['wc', 'se'] as const) {
    if (input.datasets[data].train.examples === 0) {
      skipped[data] = `no correct ${data.toUpperCase()} solutions: nothing to finetune on`;
    }
  }
  const [base, onWc, onSe] = await allOrCancel<unknown>([
    () =>
      input.evaluateBase
        ? evaluate(
            `base-${safeId(trainedModel.model)}`,
            'base',
            null,
            evaluatedModel(trainedModel, evaluation),
          )
        : Promise.resolve(null),
    () => (skipped.wc ? Promise.resolve(null) : trainAndEvaluate('wc')),
    () => (skipped.se ? Promise.resolve(null) : trainAndEvaluate('se')),
  ]);
  type Run = { finetune: FinetuneResult; evaluation: EvalResult };
  return {
    setup,
    trainedRole: setup,
    baseModel,
    base: base as EvalResult | null,
    runs: { ...(onWc ? { wc: onWc as Run } : {}), ...(onSe ? { se: onSe as Run } : {}) },
    skipped,
  };
}
