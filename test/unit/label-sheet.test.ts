// The labelling sheet's CSV round trip: fields holding commas, quotes and newlines come back intact, and
// a labels file's problems name the file, the line its record starts on, and the field.
import { describe, expect, it } from 'vitest';
import { parseCsv, readLabelsCsv, sheetCsv, type SheetItem } from '../../core/label-sheet.js';

const item = (id: string, solution: string): SheetItem => ({
  id,
  source: 'wc',
  questionId: id.split('/')[1].split('#')[0],
  sampleIndex: 0,
  level: 'Level 2',
  question: 'What is "x", given\na, b?',
  solution,
  reference: '4',
});

describe('labelling sheet CSV', () => {
  it('round-trips fields with commas, quotes and newlines, and tells each record its line', () => {
    const items = [item('wc/q1#0', 'Step 1, then "2".\n\nSo \\boxed{4}.'), item('wc/q2#0', 'plain')];
    const { records, errors } = parseCsv(sheetCsv(items));
    expect(errors).toEqual([]);
    expect(records.map((r) => r.line)).toEqual([1, 2, 6]);
    expect(records[1].fields[3]).toBe(items[0].question);
    expect(records[1].fields[4]).toBe(items[0].solution);
    expect(records[2].fields[0]).toBe('wc/q2#0');
  });

  it('reads the filled sheet, skips empty labels and names file, line and field of each problem', () => {
    const items = [item('wc/q1#0', 'a\nb'), item('wc/q2#0', 'c'), item('wc/q3#0', 'd')];
    const known = new Map(items.map((i) => [i.id, i]));
    const filled = sheetCsv(items)
      .replace(/""\r\n"wc\/q2/, '"Invalid"\r\n"wc/q2')
      .replace(/"d","4",""/, '"d","4"," valid "');
    const good = readLabelsCsv(filled, 'sheet.csv', known);
    expect(good.errors).toEqual([]);
    expect(good.labels.map((l) => [l.item.id, l.label, l.line])).toEqual([
      ['wc/q1#0', 'invalid', 2],
      ['wc/q3#0', 'valid', 7],
    ]);
    const bad = readLabelsCsv(
      'id,label\nwc/q1#0,valid\nwc/q1#0,invalid\nwc/q9#0,valid\nwc/q2#0,perhaps\nwc/q3#0\n',
      'x.csv',
      known,
    );
    expect(bad.errors).toEqual([
      'x.csv:line 3: field id: "wc/q1#0" is labelled again (first on line 2)',
      'x.csv:line 4: field id: "wc/q9#0" is not an item of this run\'s labelling sheet',
      'x.csv:line 5: field label: "perhaps" is not valid, invalid or empty',
      'x.csv:line 6: 1 fields where the header has 2',
    ]);
    expect(readLabelsCsv('question,answer\n', 'y.csv', known).errors).toEqual([
      'y.csv:line 1: header: no "id" column',
      'y.csv:line 1: header: no "label" column',
    ]);
  });
});
