// Matched training: how much each finetuning job trains, and what that costs. The paper finetunes "for a fixed
// number of steps on the data from each of these models": the same optimizer steps and batch size for WC and SE
// data, whatever the sizes of their datasets. Pure (workflows and the report use it).
import type { FinetuneConfig } from './config.js';

export const DEFAULT_TRAINING_STEPS = 100;
export const DEFAULT_TRAINING_BATCH_SIZE = 8;

/** What a setup asks of every job it starts: a number of steps (matched) or of epochs (unmatched). */
export type TrainingRequest =
  | { mode: 'steps'; steps: number; batchSize: number }
  | { mode: 'epochs'; epochs: number; batchSize: number | null };

/** The training request of a finetune config: `steps` unless only `hyperparameters.epochs` is given. */
export function trainingRequest(
  finetune: Pick<FinetuneConfig, 'steps' | 'batchSize' | 'hyperparameters'>,
): TrainingRequest {
  const batchSize = finetune.batchSize ?? finetune.hyperparameters.batchSize;
  if (finetune.steps === undefined && finetune.hyperparameters.epochs !== undefined) {
    return { mode: 'epochs', epochs: finetune.hyperparameters.epochs, batchSize: batchSize ?? null };
  }
  return {
    mode: 'steps',
    steps: finetune.steps ?? DEFAULT_TRAINING_STEPS,
    batchSize: batchSize ?? DEFAULT_TRAINING_BATCH_SIZE,
  };
}

/** What one job is sent, for a dataset of `examples` examples at a service that does (not) take steps. */
export interface JobTraining {
  /** `n_steps` (an extension: the local engine, the scripted server) or null when epochs are sent. */
  steps: number | null;
  epochs: number | null;
  batchSize: number | null;
  /** Why this job does not train the requested steps exactly, or null when it does. */
  mismatch: string | null;
}

/**
 * Steps as asked where the service takes them; otherwise the whole number of epochs (at least 1) whose
 * examples seen come closest to steps x batch size, and the mismatch said in words.
 */
export function jobTraining(request: TrainingRequest, examples: number, supportsSteps: boolean): JobTraining {
  if (request.mode === 'epochs') {
    return {
      steps: null,
      epochs: request.epochs,
      batchSize: request.batchSize,
      mismatch:
        `trained for ${request.epochs} epoch(s) (finetune.hyperparameters.epochs): ` +
        'the steps depend on the dataset size, so the data sources are not matched',
    };
  }
  if (supportsSteps) {
    return { steps: request.steps, epochs: null, batchSize: request.batchSize, mismatch: null };
  }
  const wanted = request.steps * request.batchSize;
  const epochs = Math.max(1, Math.round(wanted / Math.max(1, examples)));
  const seen = epochs * examples;
  return {
    steps: null,
    epochs,
    batchSize: request.batchSize,
    mismatch:
      seen === wanted
        ? null
        : `the service takes epochs only (fineTuning.supportsSteps: false): ${epochs} epoch(s) of ${examples} ` +
          `examples = ${seen} examples seen, against ${request.steps} steps x ${request.batchSize} = ${wanted} requested`,
  };
}

/** The ledger's training section of one finetuned cell. */
export interface TrainingSection {
  mode: 'steps' | 'epochs';
  /** False when the cell's steps depend on its dataset size (epochs) or the service could not train them. */
  matched: boolean;
  requestedSteps: number | null;
  /** Optimizer steps trained (from the job's events when the service reports them, else computed). */
  steps: number;
  stepsSource: 'service' | 'computed';
  batchSize: number | null;
  epochs: number | null;
  /** Training examples in the dataset. */
  examples: number;
  /** Examples the optimizer went through: steps x batch size (epochs x examples when trained by epochs). */
  examplesSeen: number;
  /** Tokens trained on: the service's `trained_tokens` when it reports one, else the estimate below. */
  tokens: number;
  tokensSource: 'service' | 'chars/4';
  /** Parameters of the trained model (models.<role>.params). */
  params: number;
  /** 6 x params x tokens. */
  flops: number;
  mismatch: string | null;
}

export const TRAINING_DEFINITIONS: Record<string, string> = {
  trainingSteps:
    'Optimizer steps of a finetuning job; matched training gives every data source of a setup the same steps and batch size.',
  trainingTokens:
    "Tokens trained on: the service's trained_tokens when it reports one, else chars/4 (characters of the " +
    "examples' message text divided by 4, an approximation) per example seen.",
  trainingFlops: 'Training FLOPs: 6 x parameters x training tokens.',
};

/** Characters of an example's message text / 4: a tokenizer-free approximation of its token count. */
export function approximateTokens(characters: number): number {
  return Math.ceil(characters / 4);
}

export interface TrainingFacts {
  examples: number;
  /** Approximate tokens of one pass over the dataset (chars/4). */
  datasetTokens: number;
  params: number;
  /** Steps the service said it trained (from its events), if any. */
  serviceSteps: number | null;
  serviceTokens: number | null;
}

export function trainingSection(
  request: TrainingRequest,
  sent: JobTraining,
  facts: TrainingFacts,
): TrainingSection {
  const batch = sent.batchSize;
  let computedSteps: number;
  let examplesSeen: number;
  if (sent.steps !== null) {
    computedSteps = sent.steps;
    examplesSeen = sent.steps * (batch ?? 1);
  } else {
    const epochs = sent.epochs ?? 1;
    computedSteps = batch ? Math.ceil(facts.examples / batch) * epochs : 0;
    examplesSeen = facts.examples * epochs;
  }
  const steps = facts.serviceSteps ?? computedSteps;
  const estimated = facts.examples ? Math.round((facts.datasetTokens * examplesSeen) / facts.examples) : 0;
  const tokens = facts.serviceTokens ?? estimated;
  // A service that ignored n_steps (it trained whole epochs instead) is caught by the steps its events report.
  const ignored =
    sent.steps !== null && facts.serviceSteps !== null && facts.serviceSteps !== sent.steps
      ? `the service trained ${facts.serviceSteps} steps, not the ${sent.steps} requested (does it take n_steps? ` +
        'if not, set fineTuning.supportsSteps: false)'
      : null;
  const mismatch = ignored ?? sent.mismatch;
  return {
    mode: request.mode,
    matched: request.mode === 'steps' && mismatch === null,
    requestedSteps: request.mode === 'steps' ? request.steps : null,
    steps,
    stepsSource: facts.serviceSteps !== null ? 'service' : 'computed',
    batchSize: batch,
    epochs: sent.epochs,
    examples: facts.examples,
    examplesSeen,
    tokens,
    tokensSource: facts.serviceTokens !== null ? 'service' : 'chars/4',
    params: facts.params,
    flops: 6 * facts.params * tokens,
    mismatch,
  };
}
