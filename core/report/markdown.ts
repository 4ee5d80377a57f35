// report.md and the plain-text headline, from the report document. Pure (no I/O).
import { SOURCES, type Source } from '../config.js';
import type { Interval } from '../results.js';
import {
  duration,
  fixed,
  integer,
  params,
  percent,
  percentInterval,
  points,
  scientific,
  signedPercent,
  trim,
  usd,
} from './format.js';
import { selectionMarkdown, trainingMarkdown } from './training.js';
import { evaluationsMarkdown } from './evaluations.js';
import { fprProtocolParts } from './human-fpr.js';
import {
  DATA_SOURCE_NAMES,
  SOURCE_NAMES,
  type ComparisonEntry,
  type DataEntry,
  type ReportDocument,
} from './model.js';

/** A GitHub-flavoured markdown table; `align` is 'l' or 'r' per column. */
export function markdownTable(header: string[], rows: string[][], align?: string): string {
  const escape = (cell: string) => cell.replace(/\|/g, '\\|').replace(/\n/g, '<br>');
  const rule = header.map((_, i) => (align?.[i] === 'r' ? '---:' : '---'));
  return [header, rule, ...rows].map((row) => `| ${row.map(escape).join(' | ')} |`).join('\n');
}

/** A fixed-width plain-text table for terminals. */
export function textTable(header: string[], rows: string[][], indent = '  '): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (row: string[]) =>
    indent +
    row
      .map((cell, i) => (i === row.length - 1 ? cell : cell.padEnd(widths[i])))
      .join('  ')
      .trimEnd();
  return [line(header), ...rows.map(line)].join('\n');
}

function accuracyText(accuracy: number, ci: Interval, n: number): string {
  return `${percent(accuracy)} ${percentInterval(ci)} n=${n}`;
}

function differenceText(row: ComparisonEntry): string {
  if (row.differencePoints === null) return 'n/a';
  const ci = row.differenceCi ? ` [${trim(row.differenceCi.low, 1)}, ${trim(row.differenceCi.high, 1)}]` : '';
  return `${points(row.differencePoints)}${ci}`;
}

function fprText(entry: DataEntry, withJudge = true): string {
  const fpr = entry.fpr;
  if (!fpr) return 'not judged';
  if (fpr.rate === null) return `no verdicts (${fpr.unparsed} unparsed)`;
  const judge = withJudge ? `, judge ${fpr.judgeModel}` : '';
  return `${percent(fpr.rate)} ${percentInterval(fpr.ci)} (${fpr.invalid}/${fpr.judged} judged${judge})`;
}

function modelText(model: string | null, size: number | null): string {
  if (!model) return 'n/a';
  return size ? `${model} (${params(size)})` : model;
}

/** The summary sentences at the top of report.md. */
function findings(doc: ReportDocument): string[] {
  const lines: string[] = [];
  const compared = doc.comparisons.filter((c) => c.differencePoints !== null);
  if (compared.length) {
    const wins = compared.filter((c) => (c.differencePoints ?? 0) > 0);
    const gains = compared.map((c) => c.relativeGainPercent).filter((g): g is number => g !== null);
    const mean = gains.length ? gains.reduce((a, b) => a + b, 0) / gains.length : null;
    const clear = compared.filter(
      (c) => c.differenceCi && (c.differenceCi.low > 0 || c.differenceCi.high < 0),
    );
    lines.push(
      `WC data beat SE data in ${wins.length} of ${compared.length} setup(s)` +
        (mean !== null ? ` (mean relative gain ${signedPercent(mean)})` : '') +
        `; the 95% interval of the difference excludes zero in ${clear.length} of them.`,
    );
  } else {
    lines.push(
      doc.finetune.length
        ? 'No setup was finetuned on both data sources, so WC and SE data cannot be compared by accuracy (see the notes).'
        : 'Finetuning was not run (or no setup finished): only the data-quality comparison is available.',
    );
  }
  const { wc, se } = doc.data;
  if (wc.coverageAtS !== null && se.coverageAtS !== null) {
    lines.push(
      `At the compute-matched budget WC reaches coverage@${wc.samplesPerQuestion} = ${percent(wc.coverageAtS)} ` +
        `vs SE coverage@${se.samplesPerQuestion} = ${percent(se.coverageAtS)}, and diversity ` +
        `${fixed(wc.diversityAtS)} vs ${fixed(se.diversityAtS)} unique correct solutions per question ` +
        `(${fixed(wc.diversitySolvedAtS)} vs ${fixed(se.diversitySolvedAtS)} per solved question).`,
    );
  }
  if (wc.fpr?.rate != null && se.fpr?.rate != null) {
    lines.push(`False-positive rate: WC ${percent(wc.fpr.rate)} vs SE ${percent(se.fpr.rate)}.`);
  }
  return lines;
}

export function finetuneMarkdown(doc: ReportDocument): string {
  if (!doc.comparisons.length) {
    return 'Finetuning was not run for this experiment, so there is no setup x data-source accuracy table.';
  }
  const cell = (entry: { accuracy: number; ci: Interval; n: number } | null, paradigm?: string) =>
    entry
      ? `**${percent(entry.accuracy)}** ${percentInterval(entry.ci)}, n=${entry.n}` +
        (paradigm ? `<br>*${paradigm}*` : '')
      : 'n/a';
  const rows = doc.comparisons.map((row) => [
    `**${row.setupName}**`,
    row.baseModel,
    cell(row.base),
    cell(row.se, row.se?.paradigm),
    cell(row.wc, row.wc?.paradigm),
    differenceText(row),
    signedPercent(row.relativeGainPercent),
  ]);
  const table = markdownTable(
    [
      'Setup',
      'Finetuned model',
      'Base model (no finetuning)',
      'Finetuned on SE data',
      'Finetuned on WC data',
      'WC − SE (pp) [95% CI]',
      'Relative gain',
    ],
    rows,
    'llrrrrr',
  );
  const models = doc.finetune
    .map(
      (e) =>
        `- ${e.setupName} on ${DATA_SOURCE_NAMES[e.data]} data: \`${e.finetunedModel}\` (job \`${e.jobId}\`, ${e.status})`,
    )
    .join('\n');
  return (
    `${table}\n\n` +
    groundTruthMarkdown(doc, cell) +
    headlineTestSetNote(doc) +
    'Test accuracy is pass@1 with its 95% Wilson interval and n test questions; each finetuned cell names the ' +
    "paper's paradigm. WC − SE is in percentage points; relative gain = (WC − SE) / SE.\n\n" +
    `Finetuned models:\n\n${models}`
  );
}

/**
 * With datasets.gold, the paper's layout: one row per finetuning data source (GT, SE, WC), one column per
 * setup; '' without any GT cell.
 */
function groundTruthMarkdown(
  doc: ReportDocument,
  cell: (entry: { accuracy: number; ci: Interval; n: number } | null) => string,
): string {
  if (!doc.comparisons.some((row) => row.gold)) return '';
  const rows = (['gold', 'se', 'wc'] as const).map((data) => [
    `**${DATA_SOURCE_NAMES[data]}**`,
    ...doc.comparisons.map((row) => cell(row[data] ?? null)),
  ]);
  const table = markdownTable(
    ['Finetuning data', ...doc.comparisons.map((row) => row.setupName)],
    rows,
    'l' + 'r'.repeat(doc.comparisons.length),
  );
  return (
    "Ground-truth baseline (the paper's GT row): each setup also finetuned on the problems' human-written " +
    'solutions, one per training question, with the same steps, batch size, learning rates and checkpoint ' +
    `selection as the WC and SE data.\n\n${table}\n\n`
  );
}

/** With several test sets, which one the accuracy table shows (all are in the evaluations section). */
function headlineTestSetNote(doc: ReportDocument): string {
  const sets = [...new Set((doc.evaluations ?? []).map((e) => e.testSet))];
  if (sets.length < 2) return '';
  const others = sets
    .slice(1)
    .map((name) => `\`${name}\``)
    .join(', ');
  return `On test set \`${sets[0]}\` (the first configured; ${others} below). `;
}

export function dataQualityMarkdown(doc: ReportDocument): string {
  const rows = SOURCES.map((source) => {
    const d = doc.data[source];
    const ds = d.dataset;
    return [
      `**${SOURCE_NAMES[source]}**`,
      d.model ?? 'n/a',
      params(d.params),
      String(d.samplesPerQuestion),
      percent(d.coverageAtS),
      `${fixed(d.diversityAtS)} / ${fixed(d.diversitySolvedAtS)}`,
      fprText(d),
      `${integer(d.correctSamples)} / ${integer(d.samples)}`,
      extractionText(d),
      ds ? `${integer(ds.trainExamples)} / ${integer(ds.validationExamples)}` : 'n/a',
      ds ? removedText(ds) : 'n/a',
    ];
  });
  const parts = [
    markdownTable(
      [
        'Source',
        'Model',
        'Params',
        'Samples / question (S)',
        'Coverage@S',
        'Diversity@S (all / solved questions)',
        'FPR [95% CI] (invalid / judged)',
        'Correct / all samples',
        'No answer found (truncated)',
        'SFT train / validation examples',
        'Removed from SFT data',
      ],
      rows,
      'lllrrrrrrrr',
    ),
  ];
  parts.push(datasetPolicyText(doc));
  const { wc, se } = doc.data;
  const sameK = se.samplesPerQuestion;
  const wcAtSameK = wc.coverage.find((p) => p.k === sameK);
  const wcDivAtSameK = wc.diversity.find((p) => p.k === sameK);
  if (wcAtSameK && sameK < wc.samplesPerQuestion) {
    parts.push(
      `At an equal *number* of samples (k = ${sameK}, not equal compute) WC has coverage ${percent(wcAtSameK.value)} ` +
        `and diversity ${fixed(wcDivAtSameK?.value ?? null)}; the compute-matched budget buys it ` +
        `${wc.samplesPerQuestion} samples per question.`,
    );
  }
  const judges = SOURCES.map((s) => doc.data[s].fpr?.judgeModel).filter((j): j is string => Boolean(j));
  if (judges.length) parts.push(`FPR judge: ${[...new Set(judges)].map((j) => `\`${j}\``).join(', ')}.`);
  else parts.push('FPR: not judged (no judge model was configured).');
  parts.push(...fprProtocolParts(doc, markdownTable));

  const levels = [...new Set(SOURCES.flatMap((s) => Object.keys(doc.data[s].byLevel)))].sort(compareLevels);
  if (levels.length) {
    const levelRows = levels.map((level) => {
      const w = doc.data.wc.byLevel[level];
      const s = doc.data.se.byLevel[level];
      return [
        level,
        String(w?.questions ?? s?.questions ?? 0),
        percent(w?.coverageAtS ?? null),
        percent(s?.coverageAtS ?? null),
        fixed(w?.diversityAtS ?? null),
        fixed(s?.diversityAtS ?? null),
        fixed(w?.diversitySolvedAtS ?? null),
        fixed(s?.diversitySolvedAtS ?? null),
      ];
    });
    parts.push(
      'By difficulty level:\n\n' +
        markdownTable(
          [
            'Level',
            'Questions',
            `WC coverage@${wc.samplesPerQuestion}`,
            `SE coverage@${se.samplesPerQuestion}`,
            `WC diversity@${wc.samplesPerQuestion}`,
            `SE diversity@${se.samplesPerQuestion}`,
            `WC diversity@${wc.samplesPerQuestion} (solved)`,
            `SE diversity@${se.samplesPerQuestion} (solved)`,
          ],
          levelRows,
          'lrrrrrrr',
        ),
    );
  }
  return parts.join('\n\n');
}

/** "3 duplicates, 2 over the cap, 0 questions withheld" (what the dataset options removed). */
function removedText(ds: NonNullable<DataEntry['dataset']>): string {
  const parts = [
    ds.dedupe ? `${integer(ds.duplicatesDropped)} duplicates` : 'no de-duplication',
    ds.maxPerQuestion !== null
      ? `${integer(ds.cappedDropped)} over the cap of ${ds.maxPerQuestion}`
      : 'no cap',
  ];
  if (ds.questionsWithheld) parts.push(`${integer(ds.questionsWithheld)} questions withheld`);
  return parts.join(', ');
}

/** Samples with no final answer: none found, and (in brackets) cut off at the token limit. */
function extractionText(d: DataEntry): string {
  const failures = d.extractionFailures;
  if (!failures) return 'n/a';
  return `${integer(failures.noAnswer + failures.truncated)} (${integer(failures.truncated)})`;
}

/** How the finetuning data were made from the correct samples, in one paragraph. */
function datasetPolicyText(doc: ReportDocument): string {
  const described = SOURCES.filter((s) => doc.data[s].dataset).map((source) => {
    const ds = doc.data[source].dataset!;
    const duplicates =
      ds.duplicates === null
        ? ''
        : ds.dedupe
          ? `, ${integer(ds.duplicates)} duplicate solutions dropped`
          : `, ${integer(ds.duplicates)} duplicate solutions kept`;
    const withheld =
      ds.questionsWithheld !== null && ds.questionsWithheld > 0
        ? `, ${integer(ds.questionsWithheld)} questions (${integer(ds.validationExamples)} examples) withheld for validation`
        : '';
    return `${SOURCE_NAMES[source]}: ${integer(ds.trainExamples)} training examples from ${integer(ds.correctSamples)} correct samples${duplicates}${ds.cappedDropped ? `, ${integer(ds.cappedDropped)} over the cap` : ''}${withheld}`;
  });
  const gold = doc.goldDataset;
  if (gold) {
    described.push(
      `GT: ${integer(gold.trainExamples)} training examples, one human-written solution per training question ` +
        `(${integer(gold.correctSamples)} solutions)` +
        (gold.questionsWithheld
          ? `, ${integer(gold.questionsWithheld)} questions withheld for validation`
          : ''),
    );
  }
  if (!described.length) return 'SFT data: no dataset manifests.';
  const paper = SOURCES.every((s) => {
    const ds = doc.data[s].dataset;
    return !ds || (!ds.dedupe && ds.maxPerQuestion === null && !ds.questionsWithheld);
  });
  return (
    (paper
      ? 'SFT data as in the paper: every correct solution of every training question (no de-duplication, no per-question cap, no holdout). '
      : 'SFT data differ from the paper, which keeps every correct solution of every training question. ') +
    `${described.join('; ')}. Diversity is given over all questions and over solved questions (see the definitions).`
  );
}

function compareLevels(a: string, b: string): number {
  const na = Number(a.replace(/\D+/g, ''));
  const nb = Number(b.replace(/\D+/g, ''));
  if (a.replace(/\d+/g, '') === b.replace(/\d+/g, '') && Number.isFinite(na) && Number.isFinite(nb))
    return na - nb;
  return a < b ? -1 : a > b ? 1 : 0;
}

export function ledgerMarkdown(doc: ReportDocument): string {
  const rows = SOURCES.map((source) => {
    const l = doc.ledger[source];
    const planned = l.plannedSamplesPerQuestion !== null ? ` (planned ${l.plannedSamplesPerQuestion})` : '';
    return [
      `**${SOURCE_NAMES[source]}**`,
      modelText(l.model, l.params),
      `${l.samplesPerQuestion}${planned}`,
      integer(l.samples),
      integer(l.promptTokens),
      integer(l.completionTokens),
      scientific(l.flops) + (l.plannedFlops !== null ? ` (planned ${scientific(l.plannedFlops)})` : ''),
      usd(l.usd),
      duration(l.wallSeconds),
      integer(l.requests),
    ];
  });
  const table = markdownTable(
    [
      'Source',
      'Model',
      'Samples / question',
      'Samples',
      'Prompt tokens',
      'Completion tokens',
      'FLOPs',
      'Dollars',
      'Wall time',
      'Requests',
    ],
    rows,
    'llrrrrrrrr',
  );
  const { wc, se } = doc.ledger;
  const lines = [table];
  if (wc.flops > 0 && se.flops > 0) {
    lines.push(
      `Spent FLOPs WC / SE = ${trim(wc.flops / se.flops, 3)} (1 is exactly compute-matched); ` +
        `dollars WC / SE = ${se.usd > 0 ? trim(wc.usd / se.usd, 3) : 'n/a'}.`,
    );
  }
  const { spend } = doc;
  if (spend.ratio !== null) {
    const planned = spend.plannedRatio !== null ? ` (planned ${trim(spend.plannedRatio, 4)})` : '';
    lines.push(
      spend.warning
        ? `**Warning:** ${spend.warning}.`
        : `Matched in ${spend.unit}: spent WC / SE = ${trim(spend.ratio, 4)}${planned}, within 2%.`,
    );
  }
  const flopsNote = doc.plan?.countPromptTokens
    ? 'FLOPs = 2 x params x (prompt + completion tokens)'
    : 'FLOPs = 2 x params x completion tokens (prompt tokens not counted)';
  lines.push(`${flopsNote}, from the token counts each endpoint reported.`);
  const stops = SOURCES.filter((s) => doc.ledger[s].stopReason).map(
    (s) => `${SOURCE_NAMES[s]}: ${doc.ledger[s].stopReason} after ${doc.ledger[s].rounds} round(s)`,
  );
  if (stops.length) lines.push(`Sampling stopped: ${stops.join('; ')}.`);
  return lines.join('\n\n');
}

function chartsMarkdown(doc: ReportDocument): string {
  const pngs = doc.charts.filter((c) => c.endsWith('.png'));
  const titles: Record<string, string> = {
    coverage: 'Coverage@k, WC vs SE',
    diversity: 'Diversity@k, WC vs SE',
    finetune: 'Finetuned accuracy by setup and data source',
    majority: 'maj@k by model on the headline test set',
  };
  const names = [...new Set(doc.charts.map((c) => c.replace(/^.*\//, '').replace(/\.(svg|png)$/, '')))];
  if (!names.length) return 'No charts were made.';
  return names
    .map((name) => {
      const png = pngs.find((c) => c.endsWith(`/${name}.png`));
      const svg = doc.charts.find((c) => c.endsWith(`/${name}.svg`));
      const title = titles[name] ?? name;
      const image = png ? `![${title}](${png})` : svg ? `![${title}](${svg})` : '';
      const links = [png ? `[PNG](${png})` : '', svg ? `[SVG](${svg})` : ''].filter(Boolean).join(' · ');
      return `**${title}** (${links})\n\n${image}`;
    })
    .join('\n\n');
}

function definitionsMarkdown(doc: ReportDocument): string {
  const labels: Record<string, string> = {
    coverageAtK: 'coverage@k',
    diversityAtK: 'diversity@k (all questions)',
    diversityAtKSolved: 'diversity@k (solved questions)',
    groundTruth: 'GT (ground-truth baseline)',
    extractionFailure: 'no answer found',
    uniqueSolution: 'unique solution',
    fpr: 'false-positive rate (FPR)',
    accuracy: 'accuracy',
    majorityAtK: 'maj@k',
    relativeGain: 'relative gain',
    differenceCi: 'WC − SE interval',
    computeMatched: 'compute-matched',
  };
  return Object.entries(doc.definitions)
    .map(([key, text]) => `- **${labels[key] ?? key}**: ${text}`)
    .join('\n');
}

export function renderMarkdown(doc: ReportDocument): string {
  const plan = doc.plan;
  const wc = doc.ledger.wc;
  const se = doc.ledger.se;
  const setting = [
    `WC = \`${wc.model ?? 'n/a'}\` (${params(wc.params)} params), SE = \`${se.model ?? 'n/a'}\` (${params(se.params)} params)`,
    plan
      ? `budget mode \`${plan.mode}\`, ${integer(plan.questions)} questions, P_SE / P_WC = ${trim(plan.costRatio, 3)}, ` +
        `so S_WC = ${doc.data.wc.samplesPerQuestion} and S_SE = ${doc.data.se.samplesPerQuestion} samples per question`
      : 'no plan found',
  ];
  const sections = [
    `# Compute-matched sampling report: ${doc.experimentId}`,
    `Weaker-but-cheap (WC) vs stronger-but-expensive (SE) synthetic data at an equal sampling budget ` +
      `(Bansal et al. 2024, "Smaller, Weaker, Yet Better"). ${setting.join('; ')}. Generated ${doc.generatedAt}.`,
    '## Summary',
    findings(doc)
      .map((line) => `- ${line}`)
      .join('\n'),
    '## 1. Finetuning: test accuracy',
    finetuneMarkdown(doc),
    '### Training ledger',
    trainingMarkdown(
      doc.finetune.map((e) => ({
        setupName: e.setupName,
        dataName: DATA_SOURCE_NAMES[e.data],
        training: e.training,
      })),
      markdownTable,
    ),
    ...selectionSection(doc),
    '## 2. Data quality at the compute-matched budget',
    dataQualityMarkdown(doc),
    '## 3. Compute ledger (sampling)',
    ledgerMarkdown(doc),
    '### Evaluations by test set: greedy pass@1 and maj@k',
    evaluationsMarkdown(doc.evaluations ?? []),
    '## Charts',
    chartsMarkdown(doc),
    '## Definitions',
    definitionsMarkdown(doc),
  ];
  if (doc.notes.length) sections.push('## Notes', doc.notes.map((n) => `- ${n}`).join('\n'));
  return sections.join('\n\n') + '\n';
}

/** "### Model selection" and its tables, or nothing when no cell chose among checkpoints. */
function selectionSection(doc: ReportDocument): string[] {
  const text = selectionMarkdown(
    doc.finetune.map((e) => ({
      setupName: e.setupName,
      dataName: DATA_SOURCE_NAMES[e.data],
      selection: e.selection,
    })),
    markdownTable,
  );
  return text ? ['### Model selection', text] : [];
}

/** A few lines of plain text for the terminal. */
export function renderHeadline(doc: ReportDocument): string {
  if (doc.comparisons.length) {
    const withGold = doc.comparisons.some((row) => row.gold);
    const rows = doc.comparisons.map((row) => [
      row.setupName,
      row.base ? accuracyText(row.base.accuracy, row.base.ci, row.base.n) : 'n/a',
      row.se ? accuracyText(row.se.accuracy, row.se.ci, row.se.n) : 'n/a',
      row.wc ? accuracyText(row.wc.accuracy, row.wc.ci, row.wc.n) : 'n/a',
      ...(withGold ? [row.gold ? accuracyText(row.gold.accuracy, row.gold.ci, row.gold.n) : 'n/a'] : []),
      points(row.differencePoints),
      signedPercent(row.relativeGainPercent),
    ]);
    return (
      `${doc.experimentId}: test accuracy (pass@1, 95% CI) after finetuning on compute-matched data\n` +
      textTable(
        ['setup', 'base', 'SE data', 'WC data', ...(withGold ? ['GT data'] : []), 'WC-SE', 'rel. gain'],
        rows,
      )
    );
  }
  const rows = SOURCES.map((source: Source) => {
    const d = doc.data[source];
    return [
      SOURCE_NAMES[source],
      d.model ?? 'n/a',
      String(d.samplesPerQuestion),
      percent(d.coverageAtS),
      fixed(d.diversityAtS),
      fixed(d.diversitySolvedAtS),
      fprText(d, false),
      d.dataset ? integer(d.dataset.trainExamples) : 'n/a',
    ];
  });
  return (
    `${doc.experimentId}: finetuning was not run; data quality at the compute-matched budget\n` +
    textTable(
      ['source', 'model', 'S', 'coverage@S', 'diversity@S', 'diversity@S solved', 'FPR', 'train examples'],
      rows,
    )
  );
}
