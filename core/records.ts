// Record types at the boundaries between stages. Large collections of these live in the artifact store
// (JSONL); workflows only ever see summaries and references.
import type { Source } from './config.js';
import type { SourceMetrics } from './metrics.js';

/** One problem of the problem set, normalised from whatever the dataset looked like. */
export interface Problem {
  id: string;
  question: string;
  /** The gold answer as written in the dataset (a bare answer or a worked solution). */
  gold: string;
  level?: string;
}

export interface Usage {
  promptTokens: number;
  completionTokens: number;
}

/** One sampled solution, as the endpoint returned it. */
export interface SampleRecord {
  /** A source ('wc', 'se') for training samples; the evaluation id for evaluation samples. */
  source: string;
  questionId: string;
  round: number;
  /** Index of this sample among the question's samples, across rounds. */
  sampleIndex: number;
  text: string;
  finishReason: string | null;
  requestId: string | null;
  /** Usage of the whole request this sample came from (shared by its `n` choices). */
  requestUsage: Usage;
  /** Activity attempt that paid for the request. */
  attempt: number;
  seed: number;
}

/** Money and compute spent by one source, from the endpoint's reported usage. */
export interface Ledger {
  requests: number;
  samples: number;
  promptTokens: number;
  completionTokens: number;
  flops: number;
  usd: number;
}

export const EMPTY_LEDGER: Ledger = {
  requests: 0,
  samples: 0,
  promptTokens: 0,
  completionTokens: 0,
  flops: 0,
  usd: 0,
};

export function addLedgers(a: Ledger, b: Ledger): Ledger {
  return {
    requests: a.requests + b.requests,
    samples: a.samples + b.samples,
    promptTokens: a.promptTokens + b.promptTokens,
    completionTokens: a.completionTokens + b.completionTokens,
    flops: a.flops + b.flops,
    usd: a.usd + b.usd,
  };
}

/** What a finished sampling batch reports back to its workflow (its samples stay in the store). */
export interface BatchSummary {
  key: string;
  artifact: string;
  questions: number;
  ledger: Ledger;
  /** True when the batch was already in the store and nothing was requested. */
  reused: boolean;
}

export interface VerdictRecord {
  source: Source;
  questionId: string;
  sampleIndex: number;
  extracted: string | null;
  normalized: string | null;
  correct: boolean;
  reason: string;
}

export interface VerifySummary {
  source: Source;
  artifact: string;
  samples: number;
  correct: number;
  verifierVersion: string;
}

/** What a source's sampling workflow returns (its samples stay in the store). */
export interface SamplingResult {
  source: Source;
  ledger: Ledger;
  samplesPerQuestion: number;
  rounds: number;
  stopReason: string;
  /** Wall time from the first run of this sampling workflow to its end, continue-as-new included. */
  wallSeconds: number;
}

/** The LLM-judged false-positive rate of one source's correct-answer solutions. */
export interface FprResult {
  source: Source;
  judged: number;
  invalid: number;
  /** Judge replies that said neither VALID nor INVALID; left out of the rate. */
  unparsed: number;
  fpr: number | null;
  ci: { low: number; high: number } | null;
  judgeModel: string;
}

/** metrics.json: coverage/diversity curves per source, and the FPR where a judge ran. */
export interface MetricsFile {
  definitions: { coverageAtK: string; diversityAtK: string; uniqueSolution: string; fpr: string };
  sources: Record<Source, SourceMetrics & { fpr: FprResult | null }>;
}

/** datasets/<source>/manifest.json: counts and content hashes of a source's finetuning data. */
export interface DatasetManifest {
  source: Source;
  train: { key: string; examples: number; questions: number; sha256: string };
  validation: { key: string; examples: number; questions: number; sha256: string };
  correctSamples: number;
  duplicatesDropped: number;
  cappedDropped: number;
  maxPerQuestion: number | null;
}
