// The OpenAI fine-tuning protocol (files + fine_tuning.jobs) through the `openai` package: OpenAI itself,
// compatible services, and the project's local engine.
import OpenAI, { toFile } from 'openai';
import type { HyperparametersConfig } from '../../core/config.js';
import { clientFor, type EndpointConfig } from '../endpoint.js';
import type { CreateJobRequest, FineTuningBackend, JobEvent, JobSnapshot, JobStatus } from './backend.js';

type Job = OpenAI.FineTuning.Jobs.FineTuningJob;

function snapshot(job: Job): JobSnapshot {
  const error = job.error ? `${job.error.code ?? 'error'}: ${job.error.message}` : null;
  return {
    id: job.id,
    status: job.status as JobStatus,
    fineTunedModel: job.fine_tuned_model ?? null,
    error,
    trainedTokens: job.trained_tokens ?? null,
    metadata: (job.metadata as Record<string, string> | null | undefined) ?? null,
  };
}

/** OpenAI's hyperparameter names, plus `learning_rate` and `method` as extensions for other services. */
function hyperparameters(h: HyperparametersConfig): Record<string, unknown> {
  return {
    n_epochs: h.epochs,
    ...(h.learningRateMultiplier !== undefined ? { learning_rate_multiplier: h.learningRateMultiplier } : {}),
    ...(h.learningRate !== undefined ? { learning_rate: h.learningRate } : {}),
    ...(h.batchSize !== undefined ? { batch_size: h.batchSize } : {}),
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
      hyperparameters: hyperparameters(request.hyperparameters),
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
        message: event.message,
        data: event.data,
      });
      if (events.length >= 10_000) break;
    }
    return events.reverse();
  }

  async cancelJob(id: string): Promise<JobSnapshot> {
    return snapshot(await this.client.fineTuning.jobs.cancel(id));
  }
}
