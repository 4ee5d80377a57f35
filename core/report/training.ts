// The report's training ledger: steps, examples seen, tokens and FLOPs of every finetuned cell, and whether its
// data sources were trained alike (matched training, core/training.ts). Pure (no I/O).
import type { SelectionResult } from '../selection.js';
import type { TrainingSection } from '../training.js';
import { integer, percent, scientific } from './format.js';

export interface TrainingRow {
  setupName: string;
  /** Data source name as the report writes it ("WC", "SE"). */
  dataName: string;
  training: TrainingSection | null;
}

/** Why the training of a report's cells is not matched, one note each (empty when every cell is). */
export function trainingNotes(rows: TrainingRow[]): string[] {
  const notes: string[] = [];
  for (const row of rows) {
    const t = row.training;
    if (t && !t.matched) {
      notes.push(
        `Training of ${row.setupName} on ${row.dataName} data is unmatched: ${t.mismatch ?? t.mode}.`,
      );
    }
  }
  const bySetup = new Map<string, Set<string>>();
  for (const row of rows) {
    if (!row.training) continue;
    const shapes = bySetup.get(row.setupName) ?? new Set<string>();
    shapes.add(`${row.training.steps}x${row.training.batchSize ?? '?'}`);
    bySetup.set(row.setupName, shapes);
  }
  for (const [setupName, shapes] of bySetup) {
    if (shapes.size > 1) {
      notes.push(
        `${setupName}: its data sources trained different steps x batch sizes (${[...shapes].join(', ')}).`,
      );
    }
  }
  return notes;
}

export function trainingMarkdown(
  rows: TrainingRow[],
  table: (h: string[], r: string[][], a: string) => string,
): string {
  const known = rows.filter((row) => row.training);
  if (!known.length) return 'No training ledger: finetuning was not run, or its results predate the ledger.';
  const body = known.map((row) => {
    const t = row.training!;
    return [
      `${row.setupName} on ${row.dataName}`,
      `${integer(t.steps)}${t.stepsSource === 'service' ? '' : ' (computed)'}`,
      t.batchSize === null ? 'service default' : integer(t.batchSize),
      t.epochs === null ? '—' : integer(t.epochs),
      integer(t.examples),
      integer(t.examplesSeen),
      `${integer(t.tokens)}${t.tokensSource === 'service' ? '' : ' (chars/4)'}`,
      scientific(t.flops),
      t.matched ? 'yes' : `**no**: ${t.mismatch ?? t.mode}`,
    ];
  });
  return (
    table(
      [
        'Cell',
        'Steps',
        'Batch size',
        'Epochs',
        'Examples',
        'Examples seen',
        'Training tokens',
        'Training FLOPs',
        'Matched',
      ],
      body,
      'lrrrrrrrl',
    ) +
    "\n\nSteps come from the service's job events (else computed from the dataset size); tokens are the " +
    "service's trained_tokens, or chars/4 of the examples' text per example seen; FLOPs = 6 x parameters x tokens."
  );
}

export interface SelectionRow {
  setupName: string;
  dataName: string;
  selection: SelectionResult | null;
}

function rateText(rate: number | null): string {
  return rate === null ? 'service default' : rate.toExponential().replace('e+', 'e');
}

/** The selected learning rate and step of every cell, then the whole validation grid. */
export function selectionMarkdown(
  rows: SelectionRow[],
  table: (h: string[], r: string[][], a: string) => string,
): string | null {
  const known = rows.filter((row) => row.selection);
  if (!known.length) return null;
  const chosen = table(
    ['Cell', 'Selected', 'Validation accuracy', 'Candidates'],
    known.map((row) => {
      const s = row.selection!;
      return [
        `${row.setupName} on ${row.dataName}`,
        `learning rate ${rateText(s.selected.learningRate)}, step ${s.selected.step}`,
        `${percent(s.selected.accuracy)} (${s.selected.correct}/${s.selected.n})`,
        `${s.learningRates.length} learning rate(s) x ${s.checkpointsPerJob} checkpoint(s)`,
      ];
    }),
    'llrl',
  );
  const grid = known.flatMap((row) => {
    const s = row.selection!;
    return s.learningRates.map((rate, gridPoint) => {
      const points = s.grid.filter((score) => score.gridPoint === gridPoint);
      const cells = points.map((score) => {
        const text = `step ${score.step}: ${percent(score.accuracy)}`;
        return score === s.selected ||
          (score.gridPoint === s.selected.gridPoint && score.step === s.selected.step)
          ? `**${text}**`
          : text;
      });
      return [`${row.setupName} on ${row.dataName}`, rateText(rate), cells.join('; ')];
    });
  });
  return (
    `${chosen}\n\nValidation grid (greedy pass@1 on the validation problems; the selected checkpoint in bold):\n\n` +
    table(['Cell', 'Learning rate', 'Checkpoints'], grid, 'lll') +
    "\n\nThe test accuracy above is the selected checkpoint's; no other checkpoint saw the test set."
  );
}
