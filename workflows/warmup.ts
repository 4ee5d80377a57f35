// The warm-up stage (config `warmup`): before sampling, WC and SE are each finetuned on the warm-up problems'
// reference solutions (the same steps, batch size and hyperparameters for both), and the warmed-up models
// are WC and SE for the rest of the experiment: sampling, and the bases of the WC-LM and SE-LM setups. Each
// job is the finetuning activity the setups use, with its own files under warmup/<source>/, so a restarted
// experiment resumes polling the same jobs and never trains twice.
import { log, proxyActivities } from '@temporalio/workflow';
import type * as activities from '../activities/index.js';
import { SOURCES, type ExperimentConfig, type Source, type WarmupConfig } from '../core/config.js';
import { configuredTaskQueue } from '../core/task-queues.js';
import type { FinetuneResult } from '../core/results.js';
import { trainingRequest } from '../core/training.js';
import { warmedUpModel } from '../core/warmup.js';
import { onTaskQueue, runDirActivityOptions, trainingActivityOptions } from './activity-options.js';
import { allOrCancel } from './all-or-cancel.js';

/** Patch: experiments whose config has `warmup` warm WC and SE up before sampling. */
export const WARMUP_PATCH = 'warmup-stage';

export interface WarmupResult {
  /** The warm-up jobs, by the source whose model each warmed up. */
  jobs: Record<Source, FinetuneResult>;
  /** Examples in the warm-up dataset. */
  examples: number;
}

/** Runs the warm-up jobs; returns them and the config with WC and SE replaced by their warmed-up models. */
export async function warmupStage(
  runDir: string,
  experimentId: string,
  config: ExperimentConfig & { warmup: WarmupConfig },
): Promise<{ config: ExperimentConfig; result: WarmupResult }> {
  const { warmup, temporal } = config;
  const local = proxyActivities<typeof activities>(
    onTaskQueue(
      runDirActivityOptions(temporal.heartbeatTimeoutSeconds),
      configuredTaskQueue(temporal, 'cpu'),
    ),
  );
  const training = proxyActivities<typeof activities>(
    onTaskQueue(
      trainingActivityOptions(temporal.heartbeatTimeoutSeconds, warmup),
      configuredTaskQueue(temporal, 'finetune'),
    ),
  );
  const dataset = await local.buildWarmupDataset({ runDir, config });
  const request = trainingRequest({
    steps: warmup.steps,
    batchSize: warmup.batchSize,
    hyperparameters: warmup.hyperparameters,
  });
  const results = await allOrCancel(
    SOURCES.map((source) => () => {
      const model = config.models[source];
      return training.runFinetuneJob({
        runDir,
        experimentId,
        setup: source,
        data: source,
        warmup: true,
        backend: 'openai',
        service: {
          baseURL: model.fineTuning?.baseURL ?? model.baseURL,
          apiKeyEnv: model.fineTuning?.apiKeyEnv ?? model.apiKeyEnv,
          requestTimeoutSeconds: model.requestTimeoutSeconds,
        },
        baseModel: model.fineTuning?.model ?? model.model,
        trainKey: dataset.key,
        validationKey: null,
        hyperparameters: warmup.hyperparameters,
        training: request,
        supportsSteps: model.fineTuning?.supportsSteps ?? true,
        params: model.params,
        suffix: 'warmup',
        pollIntervalSeconds: warmup.pollIntervalSeconds,
      });
    }),
  );
  const jobs = { wc: results[0], se: results[1] };
  log.info('Warmed up', { wc: jobs.wc.fineTunedModel, se: jobs.se.fineTunedModel });
  const models = {
    ...config.models,
    wc: warmedUpModel(config.models.wc, jobs.wc.fineTunedModel),
    se: warmedUpModel(config.models.se, jobs.se.fineTunedModel),
  };
  return { config: { ...config, models }, result: { jobs, examples: dataset.examples } };
}
