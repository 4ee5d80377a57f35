// The report activity: reads the run's artifacts (plan, metrics, dataset manifests) and the results the
// workflow hands in (sampling ledgers, finetune+eval setups), and writes report.json, report.md and the
// charts (SVG, rasterised to PNG) into the run directory. Idempotent: a re-run overwrites the same keys.
import type { Source } from '../core/config.js';
import {
  chartKey,
  datasetManifestKey,
  METRICS_KEY,
  PLAN_KEY,
  REPORT_JSON_KEY,
  REPORT_MD_KEY,
  warmupFinetuneFiles,
} from '../core/layout.js';
import type { Plan } from '../core/plan.js';
import { renderHeadline, renderMarkdown } from '../core/report/markdown.js';
import { buildReportDocument, type ReportDocument } from '../core/report/model.js';
import { coverageChartSvg, diversityChartSvg, finetuneChartSvg } from '../core/report/svg.js';
import { majorityChartSvg } from '../core/report/majority-chart.js';
import type { FinetuneResult, SetupResult } from '../core/results.js';
import { warmupReportNote } from '../core/warmup.js';
import type { DatasetManifest, MetricsFile, SamplingResult } from '../core/records.js';
import { loadHumanRatings } from './labels.js';
import { openStore, readJson, writeJson, type ArtifactStore } from './store.js';

export interface ReportInput {
  runDir: string;
  experimentId: string;
  sampling: Record<Source, SamplingResult>;
  /** Finetune + evaluation results per setup; empty when finetuning is off. */
  setups: SetupResult[];
}

export interface ReportSummary {
  /** Artifact keys, relative to the run directory. */
  reportJson: string;
  reportMd: string;
  charts: string[];
  /** Plain-text version of the main table, for the CLI. */
  headline: string;
}

export async function writeReport(input: ReportInput): Promise<ReportSummary> {
  const store = openStore(input.runDir);
  const [plan, metrics, wcManifest, seManifest, goldManifest] = await Promise.all([
    readJson<Plan>(store, PLAN_KEY),
    readJson<MetricsFile>(store, METRICS_KEY),
    readJson<DatasetManifest>(store, datasetManifestKey('wc')),
    readJson<DatasetManifest>(store, datasetManifestKey('se')),
    // Present only with datasets.gold (the GT baseline).
    readJson<DatasetManifest>(store, datasetManifestKey('gold')),
  ]);
  const doc = buildReportDocument({
    experimentId: input.experimentId,
    generatedAt: new Date().toISOString(),
    plan,
    metrics,
    datasets: { wc: wcManifest, se: seManifest, gold: goldManifest },
    sampling: input.sampling,
    setups: input.setups ?? [],
    // Human labels imported after the run (`wcse label --import`) are read on every (re-)write.
    humanRatings: (await loadHumanRatings(store))?.bySource ?? null,
  });

  const charts: Array<{ name: string; svg: string }> = [
    { name: 'coverage', svg: coverageChartSvg(doc) },
    { name: 'diversity', svg: diversityChartSvg(doc) },
  ];
  if (doc.comparisons.length) charts.push({ name: 'finetune', svg: finetuneChartSvg(doc) });
  else {
    // A report re-made without finetuning must not link a stale chart from an earlier version.
    await store.remove(chartKey('finetune', 'svg'));
    await store.remove(chartKey('finetune', 'png'));
  }
  const majority = majorityChartSvg(doc.evaluations);
  if (majority) charts.push({ name: 'majority', svg: majority });
  else {
    await store.remove(chartKey('majority', 'svg'));
    await store.remove(chartKey('majority', 'png'));
  }
  doc.charts = await writeCharts(store, charts, doc);

  // With a warm-up stage, WC and SE are its models: said first among the notes.
  const warmupNote = warmupReportNote({
    wc: (await readJson<FinetuneResult>(store, warmupFinetuneFiles('wc').result)) ?? undefined,
    se: (await readJson<FinetuneResult>(store, warmupFinetuneFiles('se').result)) ?? undefined,
  });
  if (warmupNote) doc.notes.unshift(warmupNote);
  doc.headline = renderHeadline(doc);
  await writeJson(store, REPORT_JSON_KEY, doc);
  await store.write(REPORT_MD_KEY, renderMarkdown(doc));
  return { reportJson: REPORT_JSON_KEY, reportMd: REPORT_MD_KEY, charts: doc.charts, headline: doc.headline };
}

type Rasterise = (svg: string) => Buffer;

let rasteriser: Promise<Rasterise> | null = null;

/** resvg, loaded on first use so that a platform without its native binary still gets SVG charts. */
function loadRasteriser(): Promise<Rasterise> {
  rasteriser ??= import('@resvg/resvg-js').then(({ Resvg }) => (svg: string) => {
    const resvg = new Resvg(svg, {
      fitTo: { mode: 'zoom', value: 2 },
      background: '#ffffff',
      font: { loadSystemFonts: true, defaultFontFamily: 'DejaVu Sans' },
    });
    return Buffer.from(resvg.render().asPng());
  });
  return rasteriser;
}

/** Rasterises an SVG chart to PNG (2x, for sharp figures). */
export async function svgToPng(svg: string): Promise<Buffer> {
  return (await loadRasteriser())(svg);
}

async function writeCharts(
  store: ArtifactStore,
  charts: Array<{ name: string; svg: string }>,
  doc: ReportDocument,
): Promise<string[]> {
  const keys: string[] = [];
  for (const chart of charts) {
    const svgKey = chartKey(chart.name, 'svg');
    const pngKey = chartKey(chart.name, 'png');
    await store.write(svgKey, chart.svg);
    keys.push(svgKey);
    try {
      await store.write(pngKey, await svgToPng(chart.svg));
      keys.push(pngKey);
    } catch (error) {
      await store.remove(pngKey);
      doc.notes.push(`${pngKey} was not rendered (${(error as Error).message}); the SVG is there.`);
    }
  }
  return keys;
}
