// Human labels of false positives: the labelling sheet (`wcse label <id>`), the import of a labels file
// (`wcse label <id> --import FILE`), and the pairs of human and judge verdicts the report compares.
import type { Label } from '../core/agreement.js';
import { JudgeSchema, SOURCES, type ExperimentConfig, type Source } from '../core/config.js';
import { FPR_SAMPLE_DEFINITION } from '../core/fpr-sample.js';
import {
  readLabelsCsv,
  sheetCsv,
  sheetHtml,
  sheetItemId,
  sheetOrder,
  type HumanLabelsFile,
  type SheetFile,
  type SheetItem,
} from '../core/label-sheet.js';
import {
  EXPERIMENT_KEY,
  HUMAN_LABELS_KEY,
  judgmentKey,
  LABEL_SHEET_KEYS,
  REPORT_JSON_KEY,
  verdictsKey,
} from '../core/layout.js';
import { fprSample, type SavedJudgment } from './analyse.js';
import { problemsById } from './run-data.js';
import { readJson, writeJson, type ArtifactStore } from './store.js';
import { loadVerifiedSamples } from './verify.js';

/**
 * What `wcse label` cannot do with what it was given: a labels file that does not check out (every
 * problem, each naming the file, line and field), or a run without the sheet or verdicts it needs.
 */
export class LabelError extends Error {
  constructor(
    readonly summary: string,
    readonly problems: string[] = [],
  ) {
    const shown = problems.slice(0, 20);
    const more = problems.length > shown.length ? `\n  ... and ${problems.length - shown.length} more` : '';
    super(`${summary}${shown.map((p) => `\n  - ${p}`).join('')}${more}`);
    this.name = 'LabelError';
  }
}

interface RecordedExperiment {
  experimentId?: string;
  config?: ExperimentConfig;
}

/** The judge's seed and sample size as the run's config has them (the schema's defaults without a judge). */
async function judgeSettings(store: ArtifactStore): Promise<{ seed: number; sampleSize: number }> {
  const recorded = await readJson<RecordedExperiment>(store, EXPERIMENT_KEY);
  const judge = recorded?.config?.analysis?.judge ?? JudgeSchema.parse({});
  return { seed: judge.seed, sampleSize: judge.sampleSize };
}

export interface SheetSummary {
  keys: { csv: string; html: string; json: string };
  perSource: Record<Source, number>;
  seed: number;
  judgeSampleSize: number;
  /** Set when the human sample is larger than the judge's, so some items have no judge verdict. */
  warning: string | null;
}

/**
 * Writes the labelling sheet: per source, the first `perSource` solutions of the judge's stratified sample
 * (the same seed, so they are inside the judge's sample when `perSource` is no larger than its size).
 */
export async function writeLabelSheet(
  store: ArtifactStore,
  options: { perSource: number; experimentId: string | null; title: string },
): Promise<SheetSummary> {
  const { seed, sampleSize } = await judgeSettings(store);
  const problems = await problemsById(store);
  const items: SheetItem[] = [];
  const perSource = {} as Record<Source, number>;
  for (const source of SOURCES) {
    if (!(await store.exists(verdictsKey(source)))) {
      throw new LabelError(
        `${store.location}: no ${verdictsKey(source)} yet: the labelling sheet needs the verify stage's ` +
          'verdicts (wait for the experiment to pass its verify stage)',
      );
    }
    const correct = (await loadVerifiedSamples(store, source)).filter((sample) => sample.correct);
    const chosen = fprSample(correct, problems, options.perSource, seed);
    perSource[source] = chosen.length;
    for (const sample of chosen) {
      const problem = problems.get(sample.questionId)!;
      items.push({
        id: sheetItemId(source, sample.questionId, sample.sampleIndex),
        source,
        questionId: sample.questionId,
        sampleIndex: sample.sampleIndex,
        level: problem.level ?? null,
        question: problem.question,
        solution: sample.text,
        reference: problem.gold,
      });
    }
  }
  const sheet: SheetFile = {
    experimentId: options.experimentId,
    createdAt: new Date().toISOString(),
    perSource: options.perSource,
    seed,
    definition: FPR_SAMPLE_DEFINITION,
    items: sheetOrder(items, seed),
  };
  await writeJson(store, LABEL_SHEET_KEYS.json, sheet);
  await store.write(LABEL_SHEET_KEYS.csv, sheetCsv(sheet.items));
  await store.write(LABEL_SHEET_KEYS.html, sheetHtml(sheet, options.title));
  return {
    keys: { ...LABEL_SHEET_KEYS },
    perSource,
    seed,
    judgeSampleSize: sampleSize,
    warning:
      options.perSource > sampleSize
        ? `${options.perSource} per source is more than the judge's sample (analysis.judge.sampleSize ` +
          `${sampleSize}): only ${sampleSize} per source can be compared with the judge.`
        : null,
  };
}

export interface ImportSummary {
  imported: number;
  /** Labels in the run after the import (earlier imports of other items stay). */
  total: number;
  bySource: Record<Source, { labelled: number; invalid: number }>;
}

/**
 * Checks a labels file against the run's sheet and folds its labels into labels/human.json (a label of an
 * item imported before is replaced). Nothing is written unless the whole file checks out.
 */
export async function importLabels(store: ArtifactStore, file: string, text: string): Promise<ImportSummary> {
  const sheet = await readJson<SheetFile>(store, LABEL_SHEET_KEYS.json);
  if (!sheet) {
    throw new LabelError(
      `${store.location}: no ${LABEL_SHEET_KEYS.json}: write the sheet first with \`wcse label <id>\``,
    );
  }
  const items = new Map(sheet.items.map((item) => [item.id, item]));
  const { labels, errors } = readLabelsCsv(text, file, items);
  if (errors.length) throw new LabelError(`${file}: not imported (nothing was changed):`, errors);
  const now = new Date().toISOString();
  const existing = (await readJson<HumanLabelsFile>(store, HUMAN_LABELS_KEY))?.labels ?? {};
  const merged: HumanLabelsFile = { updatedAt: now, labels: { ...existing } };
  for (const { item, label, line } of labels) {
    merged.labels[item.id] = {
      id: item.id,
      source: item.source,
      questionId: item.questionId,
      sampleIndex: item.sampleIndex,
      level: item.level,
      label,
      file,
      line,
      importedAt: now,
    };
  }
  await writeJson(store, HUMAN_LABELS_KEY, merged);
  const bySource = Object.fromEntries(SOURCES.map((s) => [s, { labelled: 0, invalid: 0 }])) as Record<
    Source,
    { labelled: number; invalid: number }
  >;
  for (const label of Object.values(merged.labels)) {
    const counts = bySource[label.source];
    if (!counts) continue;
    counts.labelled++;
    if (label.label === 'invalid') counts.invalid++;
  }
  return { imported: labels.length, total: Object.keys(merged.labels).length, bySource };
}

/** One human-labelled solution and the judge's verdict on it (null: the judge did not rate it). */
export interface HumanRating {
  id: string;
  human: Label;
  judge: SavedJudgment['verdict'] | null;
}

/** The run's human labels per source with the judge's verdicts beside them; null without any labels. */
export async function loadHumanRatings(
  store: ArtifactStore,
): Promise<{ updatedAt: string; bySource: Partial<Record<Source, HumanRating[]>> } | null> {
  const file = await readJson<HumanLabelsFile>(store, HUMAN_LABELS_KEY);
  if (!file) return null;
  const bySource: Partial<Record<Source, HumanRating[]>> = {};
  for (const label of Object.values(file.labels)) {
    const judgment = await readJson<SavedJudgment>(
      store,
      judgmentKey(label.source, label.questionId, label.sampleIndex),
    );
    (bySource[label.source] ??= []).push({
      id: label.id,
      human: label.label,
      judge: judgment?.verdict ?? null,
    });
  }
  return { updatedAt: file.updatedAt, bySource };
}

/** Whether labels were imported after report.json was written (so `wcse report` writes it again). */
export async function labelsNewerThanReport(store: ArtifactStore): Promise<boolean> {
  const labels = await readJson<HumanLabelsFile>(store, HUMAN_LABELS_KEY);
  if (!labels) return false;
  const report = await readJson<{ generatedAt?: string }>(store, REPORT_JSON_KEY);
  return !report?.generatedAt || report.generatedAt < labels.updatedAt;
}
