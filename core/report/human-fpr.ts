// The report's FPR protocol lines: how the judge's sample was drawn, and the human labels (`wcse label`)
// against the judge: human FPR, the judge's FPR on the same solutions, Cohen's kappa. Pure.
import { SOURCES } from '../config.js';
import { fixed, integer, percent, percentInterval } from './format.js';
import { SOURCE_NAMES, type DataEntry, type ReportDocument } from './model.js';

type Table = (header: string[], rows: string[][], align?: string) => string;

function sampleText(entry: DataEntry): string | null {
  const fpr = entry.fpr;
  if (!fpr) return null;
  const of = fpr.correctSamples === null ? '' : ` of ${integer(fpr.correctSamples)} correct-answer solutions`;
  const how =
    fpr.stratifiedByLevel === null
      ? ''
      : fpr.stratifiedByLevel
        ? ', stratified by level'
        : ', uniform (no levels)';
  return `${integer(fpr.judged + fpr.unparsed)} judged${of}${how}`;
}

/** Markdown paragraphs for the data-quality section (empty when there is nothing to say). */
export function fprProtocolParts(doc: ReportDocument, table: Table): string[] {
  const parts: string[] = [];
  const samples = SOURCES.map((source) => {
    const text = sampleText(doc.data[source]);
    return text ? `${SOURCE_NAMES[source]} ${text}` : null;
  }).filter((text): text is string => text !== null);
  if (samples.length) parts.push(`FPR sample (definitions.fprSample): ${samples.join('; ')}.`);

  const labelled = SOURCES.filter((source) => doc.data[source].human);
  if (!labelled.length) {
    parts.push(
      'Human FPR: no labels imported (`wcse label <id>` writes a labelling sheet of the same sample; ' +
        '`wcse label <id> --import FILE` brings the labels in).',
    );
    return parts;
  }
  const rows = labelled.map((source) => {
    const human = doc.data[source].human!;
    const { agreement } = human;
    const kappa =
      agreement.kappa === null
        ? `n/a (n = ${agreement.n})`
        : `${fixed(agreement.kappa)} [${fixed(agreement.ci?.low)}, ${fixed(agreement.ci?.high)}] (n = ${agreement.n})`;
    return [
      `**${SOURCE_NAMES[source]}**`,
      `${percent(human.human.rate)} ${percentInterval(human.human.ci)} (${human.human.invalid}/${human.human.n})`,
      human.judgeOnSame.n
        ? `${percent(human.judgeOnSame.rate)} ${percentInterval(human.judgeOnSame.ci)} (${human.judgeOnSame.invalid}/${human.judgeOnSame.n})`
        : 'n/a',
      kappa,
      String(human.notJudged),
    ];
  });
  parts.push(
    'Human labels against the judge (definitions.humanFpr, definitions.cohensKappa):\n\n' +
      table(
        [
          'Source',
          'Human FPR [95% CI] (invalid / labelled)',
          'Judge FPR, same solutions [95% CI] (invalid / judged)',
          "Cohen's kappa [95% CI] (n)",
          'Labelled, not judged',
        ],
        rows,
        'lrrrr',
      ),
  );
  return parts;
}
