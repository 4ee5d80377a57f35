// The run directory's layout: every artifact key an experiment reads or writes, named here and nowhere
// else. Pure (keys are strings relative to the run directory), so workflows may use it too.
import type { DataSource, Source } from './config.js';
import type { Setup } from './results.js';

/**
 * What an experiment writes into its run directory (`<source>` is `wc` or `se`). An artifact that exists
 * is finished and paid for: every write is atomic, and a stage that finds its artifact reuses it.
 *
 *     owner.json                           the id of the experiment that owns the directory, written
 *                                          once; another id is refused (OWNER_KEY)
 *     experiment.json                      the experiment's input, written by its prepare stage once every
 *                                          check passed (EXPERIMENT_KEY)
 *     problems.jsonl                       the training problem set, normalised (PROBLEMS_KEY)
 *     plan.json                            the compute-matched plan (PLAN_KEY)
 *     samples/<source>/round-NNNN/         one directory per sampling round (samplesDir)
 *         batch-NNNNN.jsonl                a finished batch: every completion with its finish reason, usage,
 *                                          request id and attempt (batchFiles(batchKey(...)).samples)
 *         batch-NNNNN.meta.json            the batch's fingerprint, counts, ledger, and the sha256 and
 *                                          line count of its .jsonl; present = done (.meta)
 *         batch-NNNNN.parts.jsonl          an unfinished batch's log of responses saved as paid (.parts);
 *                                          removed once the batch file is written and read back
 *         batch-NNNNN.sent.jsonl           an unfinished batch's log of requests about to be sent (.sent):
 *                                          a send with no saved part was paid for and lost
 *     verdicts/<source>.jsonl              per sample: extracted answer, normalised form, correct, reason
 *                                          (verdictsKey)
 *     verdicts/<source>.meta.json          verifier version, answer format and counts (verdictsMetaKey)
 *     verdicts/<source>.parts/<attempt>/part-NNNNN.jsonl   an unfinished verify attempt's verdicts so
 *                                          far, one part per checkpoint (verdictPartKey); a retried attempt
 *                                          continues its predecessor's; joined into the .jsonl and removed
 *     judge/<source>.json                  the judged false-positive rate (judgeResultKey)
 *     judge/<source>/<question>-<i>.json   one judgment, saved as paid (judgmentKey)
 *     labels/sheet.csv, labels/sheet.html  the human labelling sheet of `wcse label`: the judge's stratified
 *                                          sample, per source (LABEL_SHEET_KEYS)
 *     labels/sheet.json                    the sheet's items, what `wcse label --import` checks a file against
 *     labels/human.json                    the imported human labels, by item (HUMAN_LABELS_KEY)
 *     metrics.json                         coverage@k and diversity@k for k = 1..S, per level, FPR (METRICS_KEY)
 *     datasets/<data>/                     finetuning data (datasetDir); <data> is wc, se or gold
 *         train.jsonl, validation.jsonl    chat-format examples (datasetKey)
 *         manifest.json                    counts and sha256 of both (datasetManifestKey)
 *     datasets/gold/solutions.jsonl        with datasets.gold: each training question's human-written
 *                                          solution, recorded by the prepare stage (GOLD_SOLUTIONS_KEY)
 *     warmup/dataset.jsonl                 with `warmup`: the warm-up problems' reference solutions as chat
 *                                          finetuning examples (WARMUP_DATASET_KEY)
 *     warmup/<source>/job.json|events.json|result.json   the warm-up job of WC or SE (warmupFinetuneFiles)
 *     finetune/<setup>-on-<data>/          one fine-tuning job (finetuneDir)
 *         job.json                         file ids and job id, saved the moment they exist (finetuneFiles)
 *         events.json                      the service's job events
 *         result.json                      the fine-tuned model; present = done
 *         lr-<i>/job.json|events.json|result.json   one learning rate of a model-selection grid (finetuneFiles)
 *         lr-<i>/validation/step-<N>/      one checkpoint scored on the validation problems (selectionKeys)
 *     finetune/validation-problems.jsonl  the validation problems of model selection (VALIDATION_PROBLEMS_KEY)
 *     eval/problems.jsonl                  the held-out test split, or the test set named "test"
 *                                          (evalProblemsKey)
 *     eval/problems-<testSet>.jsonl        every other named test set (evalProblemsKey)
 *     eval/<evalId>/                       one evaluation: `<setup>-on-<source>` or `base-<model>`, with
 *                                          `.<testSet>` when test sets are named (evalDir)
 *         <pass>-<fingerprint>/            one pass (`greedy` or `majority`); the fingerprint hashes model,
 *                                          endpoint, prompt, sampling, samples, test set and answer format,
 *                                          so a changed setting is a new pass
 *             batch-NNNNN.jsonl|.meta.json sampled like training batches (evalBatchKey)
 *         result-<fingerprints>.json       accuracy, pass@k, maj@k curve, named by its passes and its
 *                                          grading (verifier version, fallback); present = done
 *                                          (evalPassResultKey)
 *         judge-<pass>-<judge>/<question>-<i>.json   with evaluation.judgeOutputs: one judgment of a
 *                                          correct greedy output, saved as paid; <judge> hashes the judge
 *                                          model, endpoint and prompt (outputJudgmentKey)
 *         judge-<pass>-<judge>.json        the FPR of the pass's judged correct outputs (outputsJudgeResultKey)
 *     report.md, report.json               the report (REPORT_MD_KEY, REPORT_JSON_KEY)
 *     charts/<name>.svg|png                its charts (chartKey)
 *
 * A study (workflows/study.ts) writes into its study directory (`<studyDir>`; studySubdir joins a key to it):
 *
 *     pools/<pool>/                        the pool's run directory, laid out as above: problems.jsonl,
 *                                          plan.json, samples/, verdicts/, eval/problems*.jsonl, and the
 *                                          base models' evaluations eval/base-<model>/ (studyPoolDir)
 *     datasets/<datasetId>/                one arm view's finetuning data, by content id (core/study-plan.ts):
 *                                          problems.jsonl (the pool's) and datasets/<source>/train.jsonl,
 *                                          validation.jsonl, manifest.json as above (studyDatasetDir)
 *         view.json                        the view's definition and its coverage/diversity (STUDY_VIEW_KEY)
 *     jobs/<jobId>/                        one fine-tuning job and its evaluations, by content id: the
 *                                          dataset's files and eval/problems*.jsonl copied in, then
 *                                          finetune/<setup>-on-<source>/ and eval/<setup>-on-<source>/ as
 *                                          above (studyJobDir)
 *     arms/<arm>/result.json               one arm's result; present with the same plan = done (studyArmResultKey)
 *     report.md, report.json               the study report (REPORT_MD_KEY, REPORT_JSON_KEY)
 */
export const OWNER_KEY = 'owner.json';
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
export function batchFiles(key: string): { samples: string; meta: string; parts: string; sent: string } {
  return {
    samples: `${key}.jsonl`,
    meta: `${key}.meta.json`,
    parts: `${key}.parts.jsonl`,
    sent: `${key}.sent.jsonl`,
  };
}

/** Whether a key listed in a round directory is a batch's meta.json (the batch is finished). */
export function isBatchMetaKey(key: string): boolean {
  return /\/batch-\d+\.meta\.json$/.test(key);
}

/** The batch key (without extension) of a batch's meta.json key. */
export function batchKeyOfMeta(metaKey: string): string {
  return metaKey.slice(0, -'.meta.json'.length);
}

export function verdictsKey(source: Source): string {
  return `${VERDICTS_DIR}/${source}.jsonl`;
}

export function verdictsMetaKey(source: Source): string {
  return `${VERDICTS_DIR}/${source}.meta.json`;
}

export function verdictPartsDir(source: Source): string {
  return `${VERDICTS_DIR}/${source}.parts`;
}

export function verdictPartKey(source: Source, attempt: string, part: number): string {
  return `${verdictPartsDir(source)}/${attempt}/part-${String(part).padStart(5, '0')}.jsonl`;
}

export function judgeResultKey(source: Source): string {
  return `judge/${source}.json`;
}

export function judgmentKey(source: Source, questionId: string, sampleIndex: number): string {
  return `judge/${source}/${questionId}-${sampleIndex}.json`;
}

/** The human labelling sheet (`wcse label <id>`): CSV and HTML for the labeller, JSON for the import check. */
export const LABEL_SHEET_KEYS = {
  csv: 'labels/sheet.csv',
  html: 'labels/sheet.html',
  json: 'labels/sheet.json',
} as const;

/** Human labels folded in by `wcse label <id> --import FILE`; the report reads them. */
export const HUMAN_LABELS_KEY = 'labels/human.json';

export function datasetDir(source: DataSource): string {
  return `datasets/${source}`;
}

export function datasetKey(source: DataSource, split: 'train' | 'validation'): string {
  return `${datasetDir(source)}/${split}.jsonl`;
}

export function datasetManifestKey(source: DataSource): string {
  return `${datasetDir(source)}/manifest.json`;
}

export const GOLD_SOLUTIONS_KEY = 'datasets/gold/solutions.jsonl';

export const WARMUP_DATASET_KEY = 'warmup/dataset.jsonl';

/** The warm-up job of one sampled source's model (the `warmup` stage). */
export function warmupFinetuneFiles(source: Source): { job: string; events: string; result: string } {
  const dir = `warmup/${source}`;
  return { job: `${dir}/job.json`, events: `${dir}/events.json`, result: `${dir}/result.json` };
}

export function finetuneDir(setup: Setup, data: DataSource): string {
  return `finetune/${setup}-on-${data}`;
}

export function finetuneFiles(
  setup: Setup,
  data: DataSource,
  /** A learning rate's index in a model-selection grid; absent: the setup's one job. */
  gridPoint?: number,
): { job: string; events: string; result: string } {
  const dir =
    gridPoint === undefined ? finetuneDir(setup, data) : `${finetuneDir(setup, data)}/lr-${gridPoint}`;
  return { job: `${dir}/job.json`, events: `${dir}/events.json`, result: `${dir}/result.json` };
}

export const VALIDATION_PROBLEMS_KEY = 'finetune/validation-problems.jsonl';

/** One checkpoint's validation score: its sampled batch (without extension) and its result. */
export function selectionKeys(
  setup: Setup,
  data: DataSource,
  gridPoint: number,
  step: number,
): { batch: string; result: string } {
  const dir = `${finetuneDir(setup, data)}/lr-${gridPoint}/validation/step-${step}`;
  return { batch: `${dir}/batch-00000`, result: `${dir}/result.json` };
}

export function evalDir(evalId: string): string {
  return `eval/${evalId}`;
}

/** A normalised test set: `eval/problems.jsonl` for the set named "test", else `eval/problems-<name>.jsonl`. */
export function evalProblemsKey(testSet: string): string {
  return testSet === 'test' ? EVAL_PROBLEMS_KEY : `eval/problems-${testSet}.jsonl`;
}

/** An evaluation batch of one pass, without extension: `eval/<evalId>/<pass>/batch-NNNNN`. */
export function evalBatchKey(evalId: string, pass: string, batchIndex: number): string {
  return `${evalDir(evalId)}/${pass}/batch-${pad(batchIndex, 5)}`;
}

/** An evaluation's result for one combination of passes: `eval/<evalId>/<name>.json`. */
export function evalPassResultKey(evalId: string, name: string): string {
  return `${evalDir(evalId)}/${name}.json`;
}

/** One judgment of an evaluation's correct test output (`evaluation.judgeOutputs`), saved as paid. */
export function outputJudgmentKey(
  evalId: string,
  pass: string,
  judge: string,
  questionId: string,
  sampleIndex: number,
): string {
  return `${evalDir(evalId)}/judge-${pass}-${judge}/${questionId}-${sampleIndex}.json`;
}

/** The FPR of an evaluation pass's judged correct test outputs, by one judge (model, endpoint, prompt). */
export function outputsJudgeResultKey(evalId: string, pass: string, judge: string): string {
  return `${evalDir(evalId)}/judge-${pass}-${judge}.json`;
}

export function chartKey(name: string, format: 'svg' | 'png'): string {
  return `${CHARTS_DIR}/${name}.${format}`;
}

/** A key (or run directory) inside a study directory, a local path or a store URI alike. */
export function studySubdir(studyDir: string, key: string): string {
  return `${studyDir.replace(/\/+$/, '')}/${key}`;
}

export function studyPoolDir(pool: string): string {
  return `pools/${pool}`;
}

export function studyDatasetDir(datasetId: string): string {
  return `datasets/${datasetId}`;
}

export const STUDY_VIEW_KEY = 'view.json';

export function studyJobDir(jobId: string): string {
  return `jobs/${jobId}`;
}

export function studyArmResultKey(arm: string): string {
  return `arms/${arm}/result.json`;
}
