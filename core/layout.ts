// The run directory's layout: every artifact key an experiment reads or writes, named here and nowhere
// else. Pure (keys are strings relative to the run directory), so workflows may use it too.
import type { Source } from './config.js';
import type { Setup } from './results.js';

/**
 * What an experiment writes into its run directory (`<source>` is `wc` or `se`). An artifact that exists
 * is finished and paid for: every write is atomic, and a stage that finds its artifact reuses it.
 *
 *     experiment.json                      the experiment's input, written by `wcse run` (EXPERIMENT_KEY)
 *     problems.jsonl                       the training problem set, normalised (PROBLEMS_KEY)
 *     plan.json                            the compute-matched plan (PLAN_KEY)
 *     samples/<source>/round-NNNN/         one directory per sampling round (samplesDir)
 *         batch-NNNNN.jsonl                a finished batch: every completion with its finish reason, usage,
 *                                          request id and attempt (batchFiles(batchKey(...)).samples)
 *         batch-NNNNN.meta.json            the batch's fingerprint, counts and ledger; present = done (.meta)
 *         batch-NNNNN.parts.jsonl          an unfinished batch's log of responses saved as paid (.parts)
 *     verdicts/<source>.jsonl              per sample: extracted answer, normalised form, correct, reason
 *                                          (verdictsKey)
 *     verdicts/<source>.meta.json          verifier version, answer format and counts (verdictsMetaKey)
 *     judge/<source>.json                  the judged false-positive rate (judgeResultKey)
 *     judge/<source>/<question>-<i>.json   one judgment, saved as paid (judgmentKey)
 *     metrics.json                         coverage@k and diversity@k for k = 1..S, per level, FPR (METRICS_KEY)
 *     datasets/<source>/                   finetuning data (datasetDir)
 *         train.jsonl, validation.jsonl    chat-format examples (datasetKey)
 *         manifest.json                    counts and sha256 of both (datasetManifestKey)
 *     finetune/<setup>-on-<source>/        one fine-tuning job (finetuneDir)
 *         job.json                         file ids and job id, saved the moment they exist (finetuneFiles)
 *         events.json                      the service's job events
 *         result.json                      the fine-tuned model; present = done
 *     eval/problems.jsonl                  the held-out test split (EVAL_PROBLEMS_KEY)
 *     eval/<evalId>/                       one evaluation: `<setup>-on-<source>` or `base-<model>` (evalDir)
 *         batch-NNNNN.jsonl|.meta.json     sampled like training batches (evalBatchKey)
 *         result.json                      accuracy, pass@k, maj@k; present = done (evalResultKey)
 *     report.md, report.json               the report (REPORT_MD_KEY, REPORT_JSON_KEY)
 *     charts/<name>.svg|png                its charts (chartKey)
 */
export const EXPERIMENT_KEY = 'experiment.json';
export const PROBLEMS_KEY = 'problems.jsonl';
export const PLAN_KEY = 'plan.json';
export const METRICS_KEY = 'metrics.json';
export const EVAL_PROBLEMS_KEY = 'eval/problems.jsonl';
export const REPORT_JSON_KEY = 'report.json';
export const REPORT_MD_KEY = 'report.md';
export const SAMPLES_DIR = 'samples';
export const VERDICTS_DIR = 'verdicts';
export const CHARTS_DIR = 'charts';

function pad(value: number, width: number): string {
  return String(value).padStart(width, '0');
}

/** Where a source's sampling rounds live; `store.list` of it gives the round directories. */
export function samplesDir(source: Source): string {
  return `${SAMPLES_DIR}/${source}`;
}

/** A training batch, without extension: `samples/<source>/round-NNNN/batch-NNNNN`. */
export function batchKey(source: Source, round: number, batchIndex: number): string {
  return `${samplesDir(source)}/round-${pad(round, 4)}/batch-${pad(batchIndex, 5)}`;
}

/** The artifacts of a batch (training or evaluation) named by its key without extension. */
export function batchFiles(key: string): { samples: string; meta: string; parts: string } {
  return { samples: `${key}.jsonl`, meta: `${key}.meta.json`, parts: `${key}.parts.jsonl` };
}

/** Whether a key listed in a round directory is a finished batch's samples (not its meta or parts log). */
export function isBatchSamplesKey(key: string): boolean {
  return /\/batch-\d+\.jsonl$/.test(key);
}

export function verdictsKey(source: Source): string {
  return `${VERDICTS_DIR}/${source}.jsonl`;
}

export function verdictsMetaKey(source: Source): string {
  return `${VERDICTS_DIR}/${source}.meta.json`;
}

export function judgeResultKey(source: Source): string {
  return `judge/${source}.json`;
}

export function judgmentKey(source: Source, questionId: string, sampleIndex: number): string {
  return `judge/${source}/${questionId}-${sampleIndex}.json`;
}

export function datasetDir(source: Source): string {
  return `datasets/${source}`;
}

export function datasetKey(source: Source, split: 'train' | 'validation'): string {
  return `${datasetDir(source)}/${split}.jsonl`;
}

export function datasetManifestKey(source: Source): string {
  return `${datasetDir(source)}/manifest.json`;
}

export function finetuneDir(setup: Setup, data: Source): string {
  return `finetune/${setup}-on-${data}`;
}

export function finetuneFiles(setup: Setup, data: Source): { job: string; events: string; result: string } {
  const dir = finetuneDir(setup, data);
  return { job: `${dir}/job.json`, events: `${dir}/events.json`, result: `${dir}/result.json` };
}

export function evalDir(evalId: string): string {
  return `eval/${evalId}`;
}

/** An evaluation batch, without extension: `eval/<evalId>/batch-NNNNN`. */
export function evalBatchKey(evalId: string, batchIndex: number): string {
  return `${evalDir(evalId)}/batch-${pad(batchIndex, 5)}`;
}

export function evalResultKey(evalId: string): string {
  return `${evalDir(evalId)}/result.json`;
}

export function chartKey(name: string, format: 'svg' | 'png'): string {
  return `${CHARTS_DIR}/${name}.${format}`;
}
