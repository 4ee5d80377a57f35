// The report's charts as standalone SVG: coverage@k and diversity@k curves (WC vs SE on one k axis, each
// curve's compute-matched end point marked) and grouped accuracy bars with CI whiskers. Pure (no I/O); the
// activity rasterises the SVG to PNG.
import { SOURCES, type Source } from '../config.js';
import type { Interval } from '../results.js';
import { params, percent, points, signedPercent, trim } from './format.js';
import { SOURCE_NAMES, type ReportDocument } from './model.js';

export const COLORS = {
  wc: '#d95f02',
  se: '#1f5fa8',
  /** The GT baseline (finetuned on the human-written solutions). */
  gold: '#1b9e77',
  base: '#8c8c8c',
  axis: '#333333',
  grid: '#e3e3e3',
  muted: '#666666',
};
const SOURCE_COLORS: Record<Source, string> = { wc: COLORS.wc, se: COLORS.se };
export const FONT_FAMILY = 'DejaVu Sans, Helvetica, Arial, sans-serif';

/** A chart's title and subtitle lines, centred at the top. */
function chartTitle(width: number, title: string, subtitle: string): string[] {
  return [
    text(width / 2, 30, title, { size: 18, anchor: 'middle', weight: 'bold' }),
    text(width / 2, 52, subtitle, { size: 12.5, anchor: 'middle', fill: COLORS.muted }),
  ];
}

/** The rectangle inside a chart's margins where its data is drawn. */
function plotArea(
  width: number,
  height: number,
  margin: { top: number; right: number; bottom: number; left: number },
): { x: number; y: number; w: number; h: number } {
  return {
    x: margin.left,
    y: margin.top,
    w: width - margin.left - margin.right,
    h: height - margin.top - margin.bottom,
  };
}

/** The message a chart shows instead of data it does not have. */
function placeholder(width: number, height: number, message: string): string {
  return text(width / 2, height / 2, message, { size: 14, anchor: 'middle', fill: COLORS.muted });
}

export function escapeXml(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
}

/** Rough width of a text run in px (DejaVu Sans is about 0.6 em per character on average). */
export function textWidth(text: string, fontSize: number): number {
  return text.length * fontSize * 0.6;
}

function num(value: number): string {
  return String(Math.round(value * 100) / 100);
}

function text(
  x: number,
  y: number,
  content: string,
  options: {
    size?: number;
    anchor?: 'start' | 'middle' | 'end';
    weight?: string;
    fill?: string;
    rotate?: number;
  } = {},
): string {
  const { size = 12, anchor = 'start', weight, fill = COLORS.axis, rotate } = options;
  const attributes = [
    `x="${num(x)}"`,
    `y="${num(y)}"`,
    `font-size="${size}"`,
    `text-anchor="${anchor}"`,
    `fill="${fill}"`,
    weight ? `font-weight="${weight}"` : '',
    rotate !== undefined ? `transform="rotate(${rotate} ${num(x)} ${num(y)})"` : '',
  ].filter(Boolean);
  return `<text ${attributes.join(' ')}>${escapeXml(content)}</text>`;
}

function svgDocument(width: number, height: number, title: string, body: string[]): string {
  return [
    '<?xml version="1.0" encoding="UTF-8"?>',
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="${FONT_FAMILY}">`,
    `<title>${escapeXml(title)}</title>`,
    `<rect x="0" y="0" width="${width}" height="${height}" fill="#ffffff"/>`,
    ...body,
    '</svg>',
    '',
  ].join('\n');
}

/** A "nice" step (1, 2 or 5 times a power of ten) for about `count` intervals over `span`. */
export function niceStep(span: number, count: number): number {
  if (!(span > 0)) return 1;
  const raw = span / count;
  const magnitude = 10 ** Math.floor(Math.log10(raw));
  const normalised = raw / magnitude;
  const factor = normalised < 1.5 ? 1 : normalised < 3 ? 2 : normalised < 7 ? 5 : 10;
  return factor * magnitude;
}

export function niceTicks(min: number, max: number, count: number, integers = false): number[] {
  let step = niceStep(max - min, count);
  if (integers) step = Math.max(1, Math.round(step));
  const ticks: number[] = [];
  for (let v = Math.ceil(min / step - 1e-9) * step; v <= max + step * 1e-9; v += step) {
    ticks.push(Number(v.toFixed(10)));
  }
  return ticks;
}

/** The top of a value axis starting at 0: a tick at or above the maximum, never above `cap`. */
function niceTop(max: number, cap?: number): number {
  if (!(max > 0)) return cap ?? 1;
  const step = niceStep(max, 5);
  const top = Math.ceil((max * 1.04) / step - 1e-9) * step;
  return cap !== undefined ? Math.min(cap, top) : top;
}

interface Box {
  x: number;
  y: number;
  w: number;
  h: number;
}

function overlaps(a: Box, b: Box): boolean {
  return a.x < b.x + b.w && b.x < a.x + a.w && a.y < b.y + b.h && b.y < a.y + a.h;
}

export interface CurveSeries {
  name: string;
  color: string;
  points: Array<{ k: number; value: number }>;
  /** Drawn dashed (a second measure of the same source). */
  dashed?: boolean;
}

export interface CurveChartOptions {
  title: string;
  subtitle: string;
  yLabel: string;
  yFormat: (value: number) => string;
  /** Format of the end-point labels (default: yFormat). */
  endFormat?: (value: number) => string;
  /** Legend text of the end marker (default: the compute-matched end point). */
  endLegend?: string;
  /** End labels read "<name>: <value>" instead of "<name> at S=<k>: <value>". */
  plainEndLabels?: boolean;
  /** Upper limit of the value axis (1 for proportions). */
  yCap?: number;
  series: CurveSeries[];
}

/** Curves over k with each series' last point marked as its compute-matched end point. */
export function curveChartSvg(options: CurveChartOptions): string {
  const width = 800;
  const height = 500;
  const plot = plotArea(width, height, { top: 84, right: 36, bottom: 64, left: 78 });
  const series = options.series.filter((s) => s.points.length > 0);
  const body: string[] = [];
  body.push(...chartTitle(width, options.title, options.subtitle));

  if (!series.length) {
    body.push(placeholder(width, height, 'No data: the analysis stage produced no curves.'));
    return svgDocument(width, height, options.title, body);
  }

  const maxK = Math.max(...series.map((s) => s.points[s.points.length - 1].k));
  const minEnd = Math.min(...series.map((s) => s.points[s.points.length - 1].k));
  // Very unequal sample counts (e.g. 35x cheaper WC) squeeze the SE curve: use a log2 axis of k then.
  const logX = maxK >= 32 && maxK / Math.max(1, minEnd) >= 8;
  const xMin = 1;
  const xMax = Math.max(maxK, 2);
  const sx = (k: number) =>
    logX
      ? plot.x + (Math.log2(k) / Math.log2(xMax)) * plot.w
      : plot.x + ((k - xMin) / (xMax - xMin)) * plot.w;
  const maxValue = Math.max(...series.flatMap((s) => s.points.map((p) => p.value)));
  const yTop = niceTop(maxValue, options.yCap);
  const sy = (v: number) => plot.y + plot.h - (v / yTop) * plot.h;

  // Grid and axes.
  const yTicks = niceTicks(0, yTop, 5);
  for (const tick of yTicks) {
    const y = sy(tick);
    body.push(
      `<line x1="${plot.x}" y1="${num(y)}" x2="${plot.x + plot.w}" y2="${num(y)}" stroke="${COLORS.grid}" stroke-width="1"/>`,
    );
    body.push(text(plot.x - 8, y + 4, options.yFormat(tick), { size: 12, anchor: 'end' }));
  }
  let xTicks: number[];
  if (logX) {
    xTicks = [];
    for (let k = 1; k <= xMax; k *= 2) xTicks.push(k);
  } else {
    xTicks = niceTicks(xMin, xMax, Math.min(8, xMax - xMin), true).filter((k) => k >= xMin);
    if (!xTicks.includes(1)) xTicks.unshift(1);
  }
  for (const tick of xTicks) {
    const x = sx(tick);
    body.push(
      `<line x1="${num(x)}" y1="${plot.y + plot.h}" x2="${num(x)}" y2="${plot.y + plot.h + 5}" stroke="${COLORS.axis}"/>`,
    );
    body.push(text(x, plot.y + plot.h + 20, String(tick), { size: 12, anchor: 'middle' }));
  }
  body.push(
    `<line x1="${plot.x}" y1="${plot.y + plot.h}" x2="${plot.x + plot.w}" y2="${plot.y + plot.h}" stroke="${COLORS.axis}" stroke-width="1.2"/>`,
    `<line x1="${plot.x}" y1="${plot.y}" x2="${plot.x}" y2="${plot.y + plot.h}" stroke="${COLORS.axis}" stroke-width="1.2"/>`,
  );
  body.push(
    text(
      plot.x + plot.w / 2,
      height - 18,
      logX ? 'k, samples per question (log scale)' : 'k, samples per question',
      {
        size: 13,
        anchor: 'middle',
      },
    ),
  );
  body.push(text(22, plot.y + plot.h / 2, options.yLabel, { size: 13, anchor: 'middle', rotate: -90 }));

  // Curves.
  const ends: Array<{ x: number; y: number; label: string; color: string }> = [];
  for (const s of series) {
    const path = s.points.map((p, i) => `${i ? 'L' : 'M'}${num(sx(p.k))},${num(sy(p.value))}`).join(' ');
    const dash = s.dashed ? ' stroke-dasharray="7 5"' : '';
    body.push(
      `<path d="${path}" fill="none" stroke="${s.color}" stroke-width="2.5"${dash} stroke-linejoin="round" stroke-linecap="round"/>`,
    );
    if (s.points.length <= 40) {
      for (const p of s.points.slice(0, -1)) {
        body.push(`<circle cx="${num(sx(p.k))}" cy="${num(sy(p.value))}" r="2.6" fill="${s.color}"/>`);
      }
    }
    const last = s.points[s.points.length - 1];
    const x = sx(last.k);
    const y = sy(last.value);
    body.push(
      `<line x1="${num(x)}" y1="${num(y)}" x2="${num(x)}" y2="${plot.y + plot.h}" stroke="${s.color}" stroke-width="1" stroke-dasharray="4 3" opacity="0.7"/>`,
    );
    ends.push({
      x,
      y,
      color: s.color,
      label: options.plainEndLabels
        ? `${s.name}: ${(options.endFormat ?? options.yFormat)(last.value)}`
        : `${s.name.split(':')[0]} at S=${last.k}: ${(options.endFormat ?? options.yFormat)(last.value)}`,
    });
  }
  for (const end of ends) {
    body.push(
      `<circle cx="${num(end.x)}" cy="${num(end.y)}" r="6.5" fill="#ffffff" stroke="${end.color}" stroke-width="2.5"/>`,
    );
    body.push(`<circle cx="${num(end.x)}" cy="${num(end.y)}" r="2.5" fill="${end.color}"/>`);
  }

  // Legend: below the curves on the right when they are high there, else at the top left.
  const legendLines = [
    ...series.map((s) => ({ kind: 'line' as const, color: s.color, label: s.name, dashed: s.dashed })),
    {
      kind: 'end' as const,
      color: COLORS.axis,
      label: options.endLegend ?? 'compute-matched end point (k = S)',
    },
  ];
  const legendW = Math.max(...legendLines.map((l) => textWidth(l.label, 12))) + 50;
  const legendH = legendLines.length * 20 + 12;
  // The corner of the plot that the curves and end points cross least (bottom right, then top left first).
  const curvePixels: Array<{ x: number; y: number }> = ends.map((e) => ({ x: e.x, y: e.y }));
  for (const s of series) {
    for (let i = 1; i < s.points.length; i++) {
      const [x0, y0] = [sx(s.points[i - 1].k), sy(s.points[i - 1].value)];
      const [x1, y1] = [sx(s.points[i].k), sy(s.points[i].value)];
      const steps = Math.max(1, Math.ceil(Math.hypot(x1 - x0, y1 - y0) / 4));
      for (let j = 0; j <= steps; j++) {
        curvePixels.push({ x: x0 + ((x1 - x0) * j) / steps, y: y0 + ((y1 - y0) * j) / steps });
      }
    }
  }
  const corners: Box[] = [
    { x: plot.x + plot.w - legendW - 12, y: plot.y + plot.h - legendH - 12, w: legendW, h: legendH },
    { x: plot.x + 12, y: plot.y + 10, w: legendW, h: legendH },
    { x: plot.x + plot.w - legendW - 12, y: plot.y + 10, w: legendW, h: legendH },
    { x: plot.x + 12, y: plot.y + plot.h - legendH - 12, w: legendW, h: legendH },
  ];
  const crossings = (box: Box) =>
    curvePixels.filter(
      (p) => p.x >= box.x - 8 && p.x <= box.x + box.w + 8 && p.y >= box.y - 8 && p.y <= box.y + box.h + 8,
    ).length;
  const legend = corners.reduce((best, box) => (crossings(box) < crossings(best) ? box : best));
  body.push(
    `<rect x="${num(legend.x)}" y="${num(legend.y)}" width="${num(legend.w)}" height="${num(legend.h)}" fill="#ffffff" fill-opacity="0.92" stroke="#cccccc" rx="4"/>`,
  );
  legendLines.forEach((entry, i) => {
    const y = legend.y + 16 + i * 20;
    if (entry.kind === 'line') {
      body.push(
        `<line x1="${num(legend.x + 10)}" y1="${num(y - 4)}" x2="${num(legend.x + 36)}" y2="${num(y - 4)}" stroke="${entry.color}" stroke-width="3"${entry.dashed ? ' stroke-dasharray="7 5"' : ''}/>`,
      );
    } else {
      body.push(
        `<circle cx="${num(legend.x + 23)}" cy="${num(y - 4)}" r="5.5" fill="#ffffff" stroke="${entry.color}" stroke-width="2"/>`,
      );
    }
    body.push(text(legend.x + 44, y, entry.label, { size: 12 }));
  });

  // End-point labels: the first free spot around the point, clear of the legend, the end circles, the
  // curves and the other labels. The highest point is labelled first, so it gets the spot above.
  const taken: Box[] = [legend, ...ends.map((e) => ({ x: e.x - 9, y: e.y - 9, w: 18, h: 18 }))];
  for (const s of series) {
    for (let i = 1; i < s.points.length; i++) {
      const [x0, y0, x1, y1] = [
        sx(s.points[i - 1].k),
        sy(s.points[i - 1].value),
        sx(s.points[i].k),
        sy(s.points[i].value),
      ];
      const steps = Math.max(1, Math.ceil(Math.hypot(x1 - x0, y1 - y0) / 4));
      for (let j = 0; j <= steps; j++) {
        const t = j / steps;
        taken.push({ x: x0 + (x1 - x0) * t - 2, y: y0 + (y1 - y0) * t - 2, w: 4, h: 4 });
      }
    }
  }
  const inside = (b: Box) =>
    b.x >= plot.x + 2 && b.x + b.w <= width - 4 && b.y >= plot.y - 24 && b.y + b.h <= plot.y + plot.h - 2;
  for (const end of [...ends].sort((a, b) => a.y - b.y)) {
    const w = textWidth(end.label, 12) + 6;
    const h = 16;
    const gap = 12;
    const candidates: Box[] = [];
    for (const dy of [-h - 6, 6, -2 * h - 8, h + 8, -3 * h - 10, 2 * h + 10]) {
      candidates.push({ x: end.x - w - gap, y: end.y + dy, w, h }, { x: end.x + gap, y: end.y + dy, w, h });
    }
    candidates.push({ x: end.x - w / 2, y: end.y - h - 12, w, h }, { x: end.x - w / 2, y: end.y + 12, w, h });
    const spot = candidates.find((b) => inside(b) && !taken.some((t) => overlaps(b, t))) ?? candidates[0];
    taken.push(spot);
    body.push(
      `<rect x="${num(spot.x)}" y="${num(spot.y)}" width="${num(spot.w)}" height="${h}" fill="#ffffff" fill-opacity="0.85" rx="3"/>`,
    );
    body.push(text(spot.x + 3, spot.y + 12.5, end.label, { size: 12, weight: 'bold', fill: end.color }));
  }
  return svgDocument(width, height, options.title, body);
}

function curveSeries(doc: ReportDocument, metric: 'coverage' | 'diversity'): CurveSeries[] {
  return SOURCES.map((source) => {
    const d = doc.data[source];
    const model = d.model ? ` ${d.model}${d.params ? ` (${params(d.params)})` : ''}` : '';
    return {
      name: `${SOURCE_NAMES[source]}:${model}, S = ${d.samplesPerQuestion}`,
      color: SOURCE_COLORS[source],
      points: d[metric],
    };
  });
}

function matchedSubtitle(doc: ReportDocument): string {
  const wc = doc.data.wc.samplesPerQuestion;
  const se = doc.data.se.samplesPerQuestion;
  const ratio = doc.plan ? ` (P_SE / P_WC = ${trim(doc.plan.costRatio, 3)})` : '';
  return `Equal sampling compute${ratio}: S_WC = ${wc} and S_SE = ${se} samples per question`;
}

export function coverageChartSvg(doc: ReportDocument): string {
  return curveChartSvg({
    title: 'Coverage@k: questions with at least one correct solution',
    subtitle: matchedSubtitle(doc),
    yLabel: 'coverage@k',
    yFormat: (v) => percent(v, v > 0 && v < 0.1 ? 1 : 0),
    endFormat: (v) => percent(v, 1),
    yCap: 1,
    series: curveSeries(doc, 'coverage'),
  });
}

/** Both diversity measures: solid over all questions, dashed over solved questions. */
export function diversityChartSvg(doc: ReportDocument): string {
  const solved = SOURCES.map((source) => {
    const d = doc.data[source];
    return {
      name: `${SOURCE_NAMES[source]} solved: over the ${d.solvedQuestions} of ${d.questions} questions solved`,
      color: SOURCE_COLORS[source],
      points: d.diversitySolved,
      dashed: true,
    };
  });
  return curveChartSvg({
    title: 'Diversity@k: unique correct solutions per question',
    // The legend tells the two measures apart (the subtitle is full).
    subtitle: matchedSubtitle(doc),
    yLabel: 'diversity@k (unique correct solutions)',
    yFormat: (v) => trim(v, 2),
    series: [...curveSeries(doc, 'diversity'), ...solved],
  });
}

export interface BarGroup {
  label: string;
  sublabel: string;
  note: string;
  bars: Array<{ name: string; color: string; value: number | null; ci: Interval | null }>;
}

/** Grouped bars of proportions (shown in %) with 95% CI whiskers. */
export function groupedBarChartSvg(options: {
  title: string;
  subtitle: string;
  yLabel: string;
  groups: BarGroup[];
}): string {
  const width = 800;
  const height = 520;
  const plot = plotArea(width, height, { top: 104, right: 30, bottom: 96, left: 78 });
  const body: string[] = [];
  body.push(...chartTitle(width, options.title, options.subtitle));
  const { groups } = options;
  if (!groups.length) {
    body.push(placeholder(width, height, 'Finetuning was not run.'));
    return svgDocument(width, height, options.title, body);
  }

  // Legend across the top.
  const names = groups[0].bars.map((b) => ({ name: b.name, color: b.color }));
  const itemWidths = names.map((n) => textWidth(n.name, 12.5) + 34);
  let lx = width / 2 - itemWidths.reduce((a, b) => a + b, 0) / 2;
  names.forEach((n, i) => {
    body.push(`<rect x="${num(lx)}" y="68" width="16" height="12" fill="${n.color}" rx="2"/>`);
    body.push(text(lx + 22, 79, n.name, { size: 12.5 }));
    lx += itemWidths[i];
  });

  const maxValue = Math.max(
    0,
    ...groups.flatMap((g) => g.bars.map((b) => Math.max(b.value ?? 0, b.ci?.high ?? 0))),
  );
  const yTop = niceTop(maxValue, 1);
  const sy = (v: number) => plot.y + plot.h - (v / yTop) * plot.h;
  for (const tick of niceTicks(0, yTop, 5)) {
    const y = sy(tick);
    body.push(
      `<line x1="${plot.x}" y1="${num(y)}" x2="${plot.x + plot.w}" y2="${num(y)}" stroke="${COLORS.grid}"/>`,
    );
    body.push(text(plot.x - 8, y + 4, percent(tick, 0), { size: 12, anchor: 'end' }));
  }
  body.push(text(22, plot.y + plot.h / 2, options.yLabel, { size: 13, anchor: 'middle', rotate: -90 }));

  const groupWidth = plot.w / groups.length;
  const barCount = Math.max(...groups.map((g) => g.bars.length));
  const barWidth = Math.min(64, (groupWidth * 0.72) / barCount);
  groups.forEach((group, gi) => {
    const centre = plot.x + groupWidth * (gi + 0.5);
    const start = centre - (barWidth * group.bars.length) / 2;
    group.bars.forEach((bar, bi) => {
      const x = start + bi * barWidth + 3;
      const w = barWidth - 6;
      if (bar.value === null) {
        body.push(
          text(x + w / 2, plot.y + plot.h - 6, 'n/a', { size: 11, anchor: 'middle', fill: COLORS.muted }),
        );
        return;
      }
      const y = sy(bar.value);
      body.push(
        `<rect x="${num(x)}" y="${num(y)}" width="${num(w)}" height="${num(plot.y + plot.h - y)}" fill="${bar.color}"/>`,
      );
      let labelY = y - 6;
      if (bar.ci) {
        const cx = x + w / 2;
        const top = sy(bar.ci.high);
        const bottom = sy(bar.ci.low);
        body.push(
          `<line x1="${num(cx)}" y1="${num(top)}" x2="${num(cx)}" y2="${num(bottom)}" stroke="#222222" stroke-width="1.4"/>`,
          `<line x1="${num(cx - 6)}" y1="${num(top)}" x2="${num(cx + 6)}" y2="${num(top)}" stroke="#222222" stroke-width="1.4"/>`,
          `<line x1="${num(cx - 6)}" y1="${num(bottom)}" x2="${num(cx + 6)}" y2="${num(bottom)}" stroke="#222222" stroke-width="1.4"/>`,
        );
        labelY = top - 6;
      }
      body.push(
        text(x + w / 2, labelY, (bar.value * 100).toFixed(1), {
          size: 11.5,
          anchor: 'middle',
          weight: 'bold',
        }),
      );
    });
    body.push(
      text(centre, plot.y + plot.h + 22, group.label, { size: 14, anchor: 'middle', weight: 'bold' }),
    );
    body.push(
      text(centre, plot.y + plot.h + 40, group.sublabel, {
        size: 11.5,
        anchor: 'middle',
        fill: COLORS.muted,
      }),
    );
    body.push(text(centre, plot.y + plot.h + 60, group.note, { size: 12, anchor: 'middle' }));
  });
  body.push(
    `<line x1="${plot.x}" y1="${plot.y + plot.h}" x2="${plot.x + plot.w}" y2="${plot.y + plot.h}" stroke="${COLORS.axis}" stroke-width="1.2"/>`,
    `<line x1="${plot.x}" y1="${plot.y}" x2="${plot.x}" y2="${plot.y + plot.h}" stroke="${COLORS.axis}" stroke-width="1.2"/>`,
  );
  return svgDocument(width, height, options.title, body);
}

export function finetuneChartSvg(doc: ReportDocument): string {
  const n = [...new Set(doc.finetune.map((e) => e.n))];
  // Reports written before the GT baseline have comparisons without `gold`.
  const withGold = doc.comparisons.some((row) => row.gold);
  return groupedBarChartSvg({
    title: 'Test accuracy after finetuning on compute-matched data',
    subtitle: `pass@1 with 95% Wilson intervals${n.length === 1 ? `, n = ${n[0]} test questions` : ''}; WC − SE below each setup`,
    yLabel: 'test accuracy (pass@1)',
    groups: doc.comparisons.map((row) => ({
      label: row.setupName,
      sublabel: shorten(row.baseModel, 34),
      note:
        row.differencePoints !== null
          ? `WC − SE: ${points(row.differencePoints)} (${signedPercent(row.relativeGainPercent)})`
          : '',
      bars: [
        {
          name: 'base model (no finetuning)',
          color: COLORS.base,
          value: row.base?.accuracy ?? null,
          ci: row.base?.ci ?? null,
        },
        {
          name: 'finetuned on SE data',
          color: COLORS.se,
          value: row.se?.accuracy ?? null,
          ci: row.se?.ci ?? null,
        },
        {
          name: 'finetuned on WC data',
          color: COLORS.wc,
          value: row.wc?.accuracy ?? null,
          ci: row.wc?.ci ?? null,
        },
        // The GT baseline, in every group once any setup has it (the legend reads off the first group).
        ...(withGold
          ? [
              {
                name: 'finetuned on GT data (human-written)',
                color: COLORS.gold,
                value: row.gold?.accuracy ?? null,
                ci: row.gold?.ci ?? null,
              },
            ]
          : []),
      ],
    })),
  });
}

function shorten(value: string, max: number): string {
  return value.length <= max ? value : `${value.slice(0, max - 1)}…`;
}
