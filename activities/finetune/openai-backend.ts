// The OpenAI fine-tuning protocol (files + fine_tuning.jobs) through the `openai` package: OpenAI itself,
// compatible services, and the project's local engine.
import OpenAI, { toFile } from 'openai';
import type { HyperparametersConfig } from '../../core/config.js';
import type { CheckpointRef } from '../../core/selection.js';
import type { JobTraining } from '../../core/training.js';
import { clientFor, redactEndpointText, type EndpointConfig } from '../endpoint.js';
import type { CreateJobRequest, FineTuningBackend, JobEvent, JobSnapshot, JobStatus } from './backend.js';

type Job = OpenAI.FineTuning.Jobs.FineTuningJob;

function snapshot(job: Job): JobSnapshot {
  // The service's text: redacted (keys, tokens) and cut to a few KB before it reaches a failure or a log.
  const error = job.error ? redactEndpointText(`${job.error.code ?? 'error'}: ${job.error.message}`) : null;
  return {
    id: job.id,
    status: job.status as JobStatus,
    fineTunedModel: job.fine_tuned_model ?? null,
    error,
    trainedTokens: job.trained_tokens ?? null,
    metadata: (job.metadata as Record<string, string> | null | undefined) ?? null,
  };
}

/**
 * OpenAI's hyperparameter names, plus `n_steps` and `learning_rate` as extensions for other services (the local
 * engine trains exactly `n_steps` optimizer steps, cycling the data).
 */
function hyperparameters(h: HyperparametersConfig, training: JobTraining): Record<string, unknown> {
  return {
    ...(training.epochs !== null ? { n_epochs: training.epochs } : {}),
    ...(training.steps !== null ? { n_steps: training.steps } : {}),
    ...(training.batchSize !== null ? { batch_size: training.batchSize } : {}),
    ...(h.learningRateMultiplier !== undefined ? { learning_rate_multiplier: h.learningRateMultiplier } : {}),
    ...(h.learningRate !== undefined ? { learning_rate: h.learningRate } : {}),
  };
}

export class OpenAIFineTuningBackend implements FineTuningBackend {
  private readonly client: OpenAI;
  constructor(endpoint: EndpointConfig) {
    this.client = clientFor(endpoint);
  }

  async uploadFile(name: string, content: Buffer): Promise<string> {
    const file = await this.client.files.create({ file: await toFile(content, name), purpose: 'fine-tune' });
    return file.id;
  }

  async createJob(request: CreateJobRequest): Promise<JobSnapshot> {
    const body = {
      model: request.model,
      training_file: request.trainingFileId,
      ...(request.validationFileId ? { validation_file: request.validationFileId } : {}),
      suffix: request.suffix,
      hyperparameters: {
        ...hyperparameters(request.hyperparameters, request.training),
        ...(request.checkpoints !== null ? { n_checkpoints: request.checkpoints } : {}),
      },
      metadata: request.metadata,
      // An extension (the local engine, most trainers): only sent when set, OpenAI itself has no such choice.
      ...(request.hyperparameters.method !== undefined
        ? { lora: request.hyperparameters.method === 'lora' }
        : {}),
    };
    return snapshot(await this.client.fineTuning.jobs.create(body as OpenAI.FineTuning.JobCreateParams));
  }

  async getJob(id: string): Promise<JobSnapshot> {
    return snapshot(await this.client.fineTuning.jobs.retrieve(id));
  }

  async listJobs(limit: number): Promise<JobSnapshot[]> {
    const page = await this.client.fineTuning.jobs.list({ limit });
    return page.data.map(snapshot);
  }

  async listEvents(id: string): Promise<JobEvent[]> {
    const events: JobEvent[] = [];
    for await (const event of this.client.fineTuning.jobs.listEvents(id, { limit: 100 })) {
      events.push({
        createdAt: event.created_at,
        level: event.level,
        message: redactEndpointText(event.message),
        data: event.data,
      });
      if (events.length >= 10_000) break;
    }
    return events.reverse();
  }

  async cancelJob(id: string): Promise<JobSnapshot> {
    return snapshot(await this.client.fineTuning.jobs.cancel(id));
  }

  async listCheckpoints(id: string): Promise<CheckpointRef[]> {
    const checkpoints: CheckpointRef[] = [];
    for await (const checkpoint of this.client.fineTuning.jobs.checkpoints.list(id, { limit: 100 })) {
      checkpoints.push({ step: checkpoint.step_number, model: checkpoint.fine_tuned_model_checkpoint });
      if (checkpoints.length >= 1000) break;
    }
    return checkpoints.sort((a, b) => a.step - b.step);
  }
}
