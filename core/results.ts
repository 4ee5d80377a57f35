// Results of the second half of the study: finetuning jobs, evaluations, setups. Small records that
// workflows pass around and the report reads.
import type { Source } from './config.js';
import type { Ledger } from './records.js';

/** Which model is finetuned: the student, the WC model or the SE model (paper: Student-LM, WC-LM, SE-LM). */
export type Setup = 'student' | 'wc' | 'se';
export const SETUPS: readonly Setup[] = ['student', 'wc', 'se'];

export interface Interval {
  low: number;
  high: number;
}

export interface EvalResult {
  /** Unique within a run, e.g. "base-wc" or "student-on-se". */
  evalId: string;
  model: string;
  baseURL: string;
  kind: 'base' | 'finetuned';
  setup: Setup;
  /** Training data source of a finetuned model; null for a base model. */
  data: Source | null;
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
  byLevel: Record<string, { n: number; correct: number; accuracy: number }>;
  ledger: Ledger;
  verifierVersion: string;
}

export interface FinetuneResult {
  setup: Setup;
  data: Source;
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
}

export interface SetupResult {
  setup: Setup;
  /** Role of the finetuned model: 'student', 'wc' or 'se'. */
  trainedRole: Setup;
  baseModel: string;
  base: EvalResult;
  /** Per data source; absent when that source produced no training data (see `skipped`). */
  runs: Partial<Record<Source, { finetune: FinetuneResult; evaluation: EvalResult }>>;
  /** Why a data source was not finetuned on, e.g. no correct solutions at all. */
  skipped: Partial<Record<Source, string>>;
}

/** The paper's name for each (setup, data source) cell. */
export function paradigmName(setup: Setup, data: Source): string {
  if (setup === 'student') return 'knowledge distillation';
  if (setup === 'wc') return data === 'wc' ? 'self-improvement' : 'knowledge distillation';
  return data === 'wc' ? 'weak-to-strong improvement' : 'self-improvement';
}
