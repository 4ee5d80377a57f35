// Results of the second half of the study: finetuning jobs, evaluations, setups. Small records that
// workflows pass around and the report reads.
import type { DataSource } from './config.js';
import type { MajorityPoint } from './majority.js';
import type { Ledger } from './records.js';
import type { CheckpointRef, SelectionResult } from './selection.js';
import type { TrainingSection } from './training.js';

/** Which model is finetuned: the student, the WC model or the SE model (paper: Student-LM, WC-LM, SE-LM). */
export type Setup = 'student' | 'wc' | 'se';
export const SETUPS: readonly Setup[] = ['student', 'wc', 'se'];

export interface Interval {
  low: number;
  high: number;
}

/** The maj@k curve of an evaluation's sampled pass (core/majority.ts). */
export interface MajorityResult {
  temperature: number;
  /** Samples drawn per question; maj@k for k < samples averages over k-subsets. */
  samples: number;
  /** The sampled pass's directory name (`majority-<fingerprint>`). */
  fingerprint: string;
  curve: MajorityPoint[];
}

export interface EvalResult {
  /** Unique within a run, e.g. "base-wc" or "student-on-se" ("student-on-se.gsm8k" for named test sets). */
  evalId: string;
  /** The test set ("test" for a single split); absent in results written before named test sets. */
  testSet?: string;
  /** The greedy pass's directory name (`greedy-<fingerprint>`): what was evaluated, hashed. */
  fingerprint?: string;
  model: string;
  baseURL: string;
  kind: 'base' | 'finetuned';
  setup: Setup;
  /** Training data source of a finetuned model; null for a base model. */
  data: DataSource | null;
  /** Test questions evaluated. */
  n: number;
  /** Questions whose first sample is correct. */
  correct: number;
  /** pass@1 (greedy by default). */
  accuracy: number;
  /** 95% Wilson interval of the accuracy. */
  ci: Interval;
  /** Samples per question (1: greedy pass@1 only). */
  k: number;
  passAtK: number | null;
  majAtK: number | null;
  /** maj@k at the majority temperature; null or absent when `evaluation.majority` is off. */
  majority?: MajorityResult | null;
  /** With several test sets: every set's result by name (this result is the first, headline set's). */
  testSets?: Record<string, Omit<EvalResult, 'testSets'>>;
  byLevel: Record<string, { n: number; correct: number; accuracy: number }>;
  ledger: Ledger;
  verifierVersion: string;
  /** With `evaluation.judgeOutputs`: the judged FPR of this evaluation's correct greedy outputs. */
  outputsFpr?: OutputsFprResult;
}

/**
 * The false-positive rate of an evaluated model's test outputs (`evaluation.judgeOutputs`): a seeded,
 * level-stratified sample of its correct greedy outputs rated by the same judge, prompt and endpoint path as
 * the training data's FPR.
 */
export interface OutputsFprResult {
  evalId: string;
  testSet: string;
  kind: 'base' | 'finetuned';
  setup: Setup;
  data: DataSource | null;
  /** The greedy pass judged (`greedy-<fingerprint>`). */
  pass: string;
  /** Outputs with a VALID/INVALID verdict (the rate's n). */
  judged: number;
  invalid: number;
  /** Replies that said neither; left out of the rate. */
  unparsed: number;
  fpr: number | null;
  ci: Interval | null;
  judgeModel: string;
  /** The correct greedy outputs the sample was drawn from. */
  correctOutputs: number;
  sampleSize: number;
  seed: number;
  stratifiedByLevel: boolean;
}

export interface FinetuneResult {
  setup: Setup;
  data: DataSource;
  /** The base model id as the fine-tuning service knows it. */
  baseModel: string;
  jobId: string;
  fineTunedModel: string;
  status: string;
  trainedTokens: number | null;
  hyperparameters: Record<string, unknown>;
  trainingFileId: string;
  validationFileId: string | null;
  /** Artifact key of the job's saved events. */
  eventsKey: string;
  wallSeconds: number;
  /** Steps, examples seen, tokens and FLOPs of the job (absent in results written before it existed). */
  training?: TrainingSection;
  /** Model selection only: the job's servable checkpoints (ascending steps). */
  checkpoints?: CheckpointRef[];
  /** Model selection only: the validation grid and the checkpoint chosen (its model is `fineTunedModel`). */
  selection?: SelectionResult;
}

export interface SetupResult {
  setup: Setup;
  /** Role of the finetuned model: 'student', 'wc' or 'se'. */
  trainedRole: Setup;
  baseModel: string;
  base: EvalResult;
  /** Per data source (`gold` only with `datasets.gold`); absent when it produced no training data (`skipped`). */
  runs: Partial<Record<DataSource, { finetune: FinetuneResult; evaluation: EvalResult }>>;
  /** Why a data source was not finetuned on, e.g. no correct solutions at all. */
  skipped: Partial<Record<DataSource, string>>;
}

/** The paper's name for each (setup, data source) cell; `gold` is the ground-truth (GT) baseline. */
export function paradigmName(setup: Setup, data: DataSource): string {
  if (data === 'gold') return 'ground-truth baseline';
  if (setup === 'student') return 'knowledge distillation';
  if (setup === 'wc') return data === 'wc' ? 'self-improvement' : 'knowledge distillation';
  return data === 'wc' ? 'weak-to-strong improvement' : 'self-improvement';
}
