// The human labelling sheet of `wcse label`: its CSV and self-contained HTML page, and the reading of a
// labels file brought back with `--import`. Pure: the caller reads the run directory and writes the files.
import type { Source } from './config.js';
import { FPR_SAMPLE_DEFINITION } from './fpr-sample.js';
import { fnv1a64, unitHash } from './hash.js';
import type { Label } from './agreement.js';

/** One solution to label: a correct-answer solution of the judge's sample. */
export interface SheetItem {
  /** `<source>/<question id>#<sample index>`: unique in a run. */
  id: string;
  source: Source;
  questionId: string;
  sampleIndex: number;
  level: string | null;
  question: string;
  solution: string;
  /** The dataset's reference answer (as written there: a bare answer or a worked solution). */
  reference: string;
}

/** labels/sheet.json: what the sheet holds and how it was drawn. */
export interface SheetFile {
  experimentId: string | null;
  createdAt: string;
  /** Solutions per source (fewer where a source has fewer correct solutions). */
  perSource: number;
  seed: number;
  definition: string;
  items: SheetItem[];
}

/** One imported label, where it came from. */
export interface HumanLabel {
  id: string;
  source: Source;
  questionId: string;
  sampleIndex: number;
  level: string | null;
  label: Label;
  file: string;
  line: number;
  importedAt: string;
}

/** labels/human.json. */
export interface HumanLabelsFile {
  updatedAt: string;
  labels: Record<string, HumanLabel>;
}

export const LABEL_INSTRUCTIONS =
  'Each solution below reached the reference answer. Label it VALID if its reasoning is also correct, INVALID if it has a wrong step, an unjustified leap, or reached the answer by luck (a false positive). The source model is hidden.';

export function sheetItemId(source: Source, questionId: string, sampleIndex: number): string {
  return `${source}/${questionId}#${sampleIndex}`;
}

/** The order items are shown in: a seeded shuffle that mixes the sources (the labeller does not see which). */
export function sheetOrder(items: SheetItem[], seed: number): SheetItem[] {
  return items
    .map((item) => ({ item, rank: unitHash(`${seed}\u0000sheet\u0000${item.id}`) }))
    .sort((a, b) => a.rank - b.rank || (a.item.id < b.item.id ? -1 : 1))
    .map(({ item }) => item);
}

// CSV (RFC 4180: every field quoted, quotes doubled, CRLF between records).

const SHEET_COLUMNS = ['id', 'source', 'level', 'question', 'solution', 'reference_answer', 'label'] as const;

function csvField(value: string): string {
  return `"${value.replace(/"/g, '""')}"`;
}

export function sheetCsv(items: SheetItem[]): string {
  const rows = items.map((item) =>
    [item.id, item.source, item.level ?? '', item.question, item.solution, item.reference, ''].map(csvField),
  );
  return [SHEET_COLUMNS.map(csvField), ...rows].map((row) => row.join(',')).join('\r\n') + '\r\n';
}

export interface CsvRecord {
  /** 1-based line of the file the record starts on. */
  line: number;
  fields: string[];
}

/** Parses RFC 4180 CSV (quoted fields may hold commas, quotes and newlines); errors name the line. */
export function parseCsv(text: string): { records: CsvRecord[]; errors: string[] } {
  const records: CsvRecord[] = [];
  const errors: string[] = [];
  let line = 1;
  let i = text.charCodeAt(0) === 0xfeff ? 1 : 0;
  while (i < text.length) {
    const start = line;
    const fields: string[] = [];
    for (;;) {
      let field = '';
      if (text[i] === '"') {
        i++;
        for (;;) {
          if (i >= text.length) {
            errors.push(`line ${start}: a quoted field is not closed before the end of the file`);
            break;
          }
          const c = text[i];
          if (c === '"') {
            if (text[i + 1] === '"') {
              field += '"';
              i += 2;
              continue;
            }
            i++;
            break;
          }
          if (c === '\n') line++;
          field += c;
          i++;
        }
        if (i < text.length && text[i] !== ',' && text[i] !== '\n' && text[i] !== '\r') {
          errors.push(`line ${line}: text after a closing quote (a quote inside a field must be doubled)`);
          while (i < text.length && text[i] !== ',' && text[i] !== '\n') i++;
        }
      } else {
        while (i < text.length && text[i] !== ',' && text[i] !== '\n' && text[i] !== '\r') field += text[i++];
      }
      fields.push(field);
      if (text[i] === ',') {
        i++;
        continue;
      }
      break;
    }
    if (text[i] === '\r') i++;
    if (text[i] === '\n') {
      i++;
      line++;
    }
    if (!(fields.length === 1 && fields[0] === '')) records.push({ line: start, fields });
  }
  return { records, errors };
}

/**
 * Reads a labels file: CSV with a header naming an `id` and a `label` column (other columns are ignored,
 * so the filled-in sheet.csv and the HTML page's export both do). A label is `valid` or `invalid` (any
 * case); an empty label leaves the item unlabelled. Every problem is reported as `FILE:line N: field: ...`.
 */
export function readLabelsCsv(
  text: string,
  file: string,
  items: ReadonlyMap<string, SheetItem>,
): { labels: Array<{ item: SheetItem; label: Label; line: number }>; errors: string[] } {
  const parsed = parseCsv(text);
  const errors = parsed.errors.map((error) => `${file}:${error}`);
  const [header, ...rows] = parsed.records;
  if (!header) return { labels: [], errors: [...errors, `${file}:line 1: header: the file is empty`] };
  const names = header.fields.map((name) => name.trim().toLowerCase());
  const idColumn = names.indexOf('id');
  const labelColumn = names.indexOf('label');
  if (idColumn < 0) errors.push(`${file}:line ${header.line}: header: no "id" column`);
  if (labelColumn < 0) errors.push(`${file}:line ${header.line}: header: no "label" column`);
  if (idColumn < 0 || labelColumn < 0) return { labels: [], errors };
  const labels: Array<{ item: SheetItem; label: Label; line: number }> = [];
  const seen = new Map<string, number>();
  for (const row of rows) {
    const at = `${file}:line ${row.line}`;
    if (row.fields.length !== header.fields.length) {
      errors.push(`${at}: ${row.fields.length} fields where the header has ${header.fields.length}`);
      continue;
    }
    const id = row.fields[idColumn].trim();
    const raw = row.fields[labelColumn].trim().toLowerCase();
    const item = items.get(id);
    if (!item) {
      errors.push(`${at}: field id: "${id}" is not an item of this run's labelling sheet`);
      continue;
    }
    const earlier = seen.get(id);
    if (earlier !== undefined) {
      errors.push(`${at}: field id: "${id}" is labelled again (first on line ${earlier})`);
      continue;
    }
    seen.set(id, row.line);
    if (raw === '') continue;
    if (raw !== 'valid' && raw !== 'invalid') {
      errors.push(`${at}: field label: "${row.fields[labelColumn]}" is not valid, invalid or empty`);
      continue;
    }
    labels.push({ item, label: raw, line: row.line });
  }
  return { labels, errors };
}

// HTML: one page, no external resource (a CSP forbids loading any), labels kept in localStorage while
// the page is open, exported as CSV (`id,label`) through a download.

function escapeHtml(text: string): string {
  return text
    .replace(/&/g, '&amp;')
    .replace(/</g, '&lt;')
    .replace(/>/g, '&gt;')
    .replace(/"/g, '&quot;')
    .replace(/'/g, '&#39;');
}

const STYLE = `
body { font-family: system-ui, sans-serif; margin: 0; background: #f6f6f4; color: #222; }
header { position: sticky; top: 0; background: #fff; border-bottom: 1px solid #ccc; padding: .6rem 1.2rem;
  display: flex; gap: 1rem; align-items: center; flex-wrap: wrap; z-index: 1; }
header h1 { font-size: 1.1rem; margin: 0; }
main { max-width: 60rem; margin: 0 auto; padding: 1rem; }
.intro { font-size: .95rem; }
.item { background: #fff; border: 1px solid #ccc; border-radius: 6px; padding: .8rem 1rem; margin: 1rem 0; }
.item.valid { border-left: 6px solid #2a7d2a; }
.item.invalid { border-left: 6px solid #b3261e; }
.item h2 { font-size: 1rem; margin: 0 0 .4rem; }
.item h3 { font-size: .85rem; margin: .8rem 0 .2rem; color: #555; text-transform: uppercase; }
pre { white-space: pre-wrap; word-wrap: break-word; font-family: ui-monospace, monospace; font-size: .9rem;
  background: #fafafa; padding: .5rem; margin: 0; border-radius: 4px; }
.buttons { margin-top: .8rem; display: flex; gap: .6rem; align-items: center; }
button { font-size: .95rem; padding: .35rem .9rem; border-radius: 4px; border: 1px solid #888; background: #eee;
  cursor: pointer; }
button.label[aria-pressed="true"][data-label="valid"] { background: #2a7d2a; color: #fff; }
button.label[aria-pressed="true"][data-label="invalid"] { background: #b3261e; color: #fff; }
`;

const SCRIPT = `
(function () {
  var sheet = JSON.parse(document.getElementById('sheet-data').textContent);
  var storageKey = 'wcse-labels:' + sheet.sheetId;
  var labels = {};
  try { labels = JSON.parse(localStorage.getItem(storageKey) || '{}') || {}; } catch (e) { labels = {}; }
  function save() { try { localStorage.setItem(storageKey, JSON.stringify(labels)); } catch (e) {} }
  function show(section) {
    var id = section.getAttribute('data-id');
    var label = labels[id] || '';
    section.classList.toggle('valid', label === 'valid');
    section.classList.toggle('invalid', label === 'invalid');
    var buttons = section.querySelectorAll('button.label');
    for (var i = 0; i < buttons.length; i++) {
      buttons[i].setAttribute('aria-pressed', String(buttons[i].getAttribute('data-label') === label));
    }
  }
  function progress() {
    var done = 0;
    for (var i = 0; i < sheet.ids.length; i++) if (labels[sheet.ids[i]]) done++;
    document.getElementById('progress').textContent = done + ' / ' + sheet.ids.length + ' labelled';
  }
  var sections = document.querySelectorAll('section.item');
  for (var i = 0; i < sections.length; i++) show(sections[i]);
  progress();
  document.addEventListener('click', function (event) {
    var button = event.target.closest && event.target.closest('button.label');
    if (!button) return;
    var section = button.closest('section.item');
    var id = section.getAttribute('data-id');
    var label = button.getAttribute('data-label');
    if (labels[id] === label) delete labels[id]; else labels[id] = label;
    save();
    show(section);
    progress();
  });
  function quote(value) { return '"' + String(value).replace(/"/g, '""') + '"'; }
  document.getElementById('export').addEventListener('click', function () {
    var lines = ['id,label'];
    for (var i = 0; i < sheet.ids.length; i++) {
      lines.push(quote(sheet.ids[i]) + ',' + quote(labels[sheet.ids[i]] || ''));
    }
    var blob = new Blob([lines.join('\\r\\n') + '\\r\\n'], { type: 'text/csv' });
    var link = document.createElement('a');
    link.href = URL.createObjectURL(blob);
    link.download = sheet.exportName;
    document.body.appendChild(link);
    link.click();
    setTimeout(function () { URL.revokeObjectURL(link.href); link.remove(); }, 1000);
  });
})();
`;

/** The sheet as one self-contained HTML page (items in `sheetOrder`). */
export function sheetHtml(sheet: SheetFile, title: string): string {
  const ids = sheet.items.map((item) => item.id);
  const data = {
    sheetId: fnv1a64(ids.join('\n')),
    ids,
    exportName: `labels-${title.replace(/[^A-Za-z0-9_.-]+/g, '_')}.csv`,
  };
  // JSON inside <script>: no "</script>" or "<!--" can close it early.
  const json = JSON.stringify(data).replace(/</g, '\\u003c');
  const sections = sheet.items.map(
    (item, index) => `<section class="item" data-id="${escapeHtml(item.id)}">
<h2>Solution ${index + 1} of ${sheet.items.length}${item.level ? ` <small>(${escapeHtml(item.level)})</small>` : ''}</h2>
<h3>Problem</h3>
<pre>${escapeHtml(item.question)}</pre>
<h3>Reference answer</h3>
<pre>${escapeHtml(item.reference)}</pre>
<h3>Solution</h3>
<pre>${escapeHtml(item.solution)}</pre>
<div class="buttons"><button type="button" class="label" data-label="valid" aria-pressed="false">Valid</button>
<button type="button" class="label" data-label="invalid" aria-pressed="false">Invalid</button></div>
</section>`,
  );
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'; script-src 'unsafe-inline'">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>wcse labelling sheet: ${escapeHtml(title)}</title>
<style>${STYLE}</style>
</head>
<body>
<header><h1>wcse labelling sheet: ${escapeHtml(title)}</h1><span id="progress"></span>
<button type="button" id="export">Export labels (CSV)</button></header>
<main>
<p class="intro">${escapeHtml(LABEL_INSTRUCTIONS)} Click a chosen label again to clear it. Labels are kept in this
browser while you work; <b>Export labels</b> downloads them as CSV for
<code>wcse label ${escapeHtml(sheet.experimentId ?? '<id>')} --import FILE</code>.</p>
<p class="intro"><small>${escapeHtml(FPR_SAMPLE_DEFINITION)}</small></p>
${sections.join('\n')}
</main>
<script type="application/json" id="sheet-data">${json}</script>
<script>${SCRIPT}</script>
</body>
</html>
`;
}
