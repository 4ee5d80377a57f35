// A fine-tuning backend: where training jobs run. The OpenAI fine-tuning protocol is the one built in;
// a trainer of one's own (a script on a GPU worker) implements the same interface, and the workflows
// never know which one ran.
import type { HyperparametersConfig } from '../../core/config.js';
import type { CheckpointRef } from '../../core/selection.js';
import type { JobTraining } from '../../core/training.js';

export type JobStatus = 'validating_files' | 'queued' | 'running' | 'succeeded' | 'failed' | 'cancelled';
export const TERMINAL_STATUSES: ReadonlySet<JobStatus> = new Set(['succeeded', 'failed', 'cancelled']);

export interface JobSnapshot {
  id: string;
  status: JobStatus;
  fineTunedModel: string | null;
  /** The service's reason when the job failed. */
  error: string | null;
  trainedTokens: number | null;
  /** Metadata the job was created with, when the service returns it (used to adopt a job after a crash). */
  metadata: Record<string, string> | null;
}

export interface JobEvent {
  createdAt: number;
  level: string;
  message: string;
  data?: unknown;
}

export interface CreateJobRequest {
  model: string;
  trainingFileId: string;
  validationFileId: string | null;
  suffix: string;
  hyperparameters: HyperparametersConfig;
  /** How long to train: steps (an extension) or epochs, and the batch size. */
  training: JobTraining;
  /** Servable checkpoints to leave (`n_checkpoints`, an extension), or null for the service's default. */
  checkpoints: number | null;
  /** Identifies the job as this run's, so a retry can find a job whose id it never saw. */
  metadata: Record<string, string>;
}

export interface FineTuningBackend {
  uploadFile(name: string, content: Buffer): Promise<string>;
  createJob(request: CreateJobRequest): Promise<JobSnapshot>;
  getJob(id: string): Promise<JobSnapshot>;
  /** Recent jobs, newest first, to find one by metadata. */
  listJobs(limit: number): Promise<JobSnapshot[]>;
  listEvents(id: string): Promise<JobEvent[]>;
  cancelJob(id: string): Promise<JobSnapshot>;
  /** The job's servable checkpoints (`GET /fine_tuning/jobs/{id}/checkpoints`). */
  listCheckpoints(id: string): Promise<CheckpointRef[]>;
}
