// Record types at the boundaries between stages. Large collections of these live in the artifact store
// (JSONL); workflows only ever see summaries and references.
import type { DataSource, Source } from './config.js';
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
  /** Why the request's reported usage was not believed (`requestUsage` is then its worst case). */
  usageDistrusted?: string;
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
  /**
   * Requests paid for a second time: sends whose response was never saved (lost to a crash, a cancel or a
   * failed save; each charged in `flops` and `usd` at its worst case, since its usage is unknown, and not
   * counted in `requests` or the token fields), and requests of a batch sampled again because its saved
   * samples were lost (in `requests` and the token fields too). Absent in ledgers written before it existed.
   */
  repaidRequests?: number;
  /**
   * Responses whose reported usage was not believed (missing, or below what their text could have cost;
   * core/usage.ts) and which were charged at their worst case instead. Absent when none was.
   */
  usageDistrusted?: number;
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
    ...(a.repaidRequests !== undefined || b.repaidRequests !== undefined
      ? { repaidRequests: (a.repaidRequests ?? 0) + (b.repaidRequests ?? 0) }
      : {}),
    ...(a.usageDistrusted || b.usageDistrusted
      ? { usageDistrusted: (a.usageDistrusted ?? 0) + (b.usageDistrusted ?? 0) }
      : {}),
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

/** Samples the verifier found no final answer in: `no-answer` (none in the text), `truncated` (cut off). */
export interface ExtractionFailures {
  noAnswer: number;
  truncated: number;
}

export interface VerifySummary {
  source: Source;
  artifact: string;
  samples: number;
  correct: number;
  /** Absent in summaries recorded before it was counted. */
  extractionFailures?: ExtractionFailures;
  verifierVersion: string;
}

/** What a source's sampling workflow returns (its samples stay in the store). */
export interface SamplingResult {
  source: Source;
  ledger: Ledger;
  /** Samples every question got (full rounds, and top-up passes that reached every question). */
  samplesPerQuestion: number;
  rounds: number;
  /**
   * Samples drawn by the budget top-up after the last full round (flops/price modes): one more sample each
   * for questions in a seeded order, so some questions have one sample more than `samplesPerQuestion`.
   * Absent in results from before the top-up existed.
   */
  topUpSamples?: number;
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
  /** The correct-answer solutions the sample was drawn from; absent in results from before it was recorded. */
  correctSamples?: number;
  /** Whether the sample was stratified by level (`core/fpr-sample.ts`); absent: an older, uniform sample. */
  stratifiedByLevel?: boolean;
}

/** metrics.json: coverage/diversity curves per source, and the FPR where a judge ran. */
export interface MetricsFile {
  definitions: {
    coverageAtK: string;
    diversityAtK: string;
    diversityAtKSolved: string;
    uniqueSolution: string;
    fpr: string;
    extractionFailure: string;
  };
  sources: Record<Source, SourceMetrics & { fpr: FprResult | null; extractionFailures: ExtractionFailures }>;
}

/** datasets/<source>/manifest.json: counts and content hashes of a source's finetuning data. */
export interface DatasetManifest {
  /** `gold`: one human-written solution per training question (`correctSamples` counts the solutions). */
  source: DataSource;
  train: { key: string; examples: number; questions: number; sha256: string };
  validation: { key: string; examples: number; questions: number; sha256: string };
  correctSamples: number;
  /** Whether repeated solutions of a question were dropped (`datasets.dedupe`). */
  dedupe: boolean;
  /** Correct solutions that repeat an earlier one of their question, dropped or not. */
  duplicates: number;
  /** Removed by de-duplication (0 unless `dedupe`). */
  duplicatesDropped: number;
  /** Removed by the per-question cap. */
  cappedDropped: number;
  maxPerQuestion: number | null;
  /** Questions with a correct solution that went to the validation split instead of training. */
  questionsWithheld: number;
  validationFraction: number;
}
