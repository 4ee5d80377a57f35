// The FPR protocol end to end: the judge rates a sample stratified by level; `wcse label <id>` writes a
// sheet of the same sample; its HTML page, opened in a real headless Chromium, is labelled by clicks and
// exported; `wcse label <id> --import` folds the export in (and refuses a bad file, naming line and
// field); `wcse report <id>` writes the report again with human FPR, judge FPR and Cohen's kappa.
import { describe, expect, inject, it } from 'vitest';
import { execFile } from 'node:child_process';
import { readdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { promisify } from 'node:util';
import type { SheetFile } from '../core/label-sheet.js';
import { parseCsv } from '../core/label-sheet.js';
import type { ReportDocument } from '../core/report/model.js';
import { launchBrowser } from './support/browser.js';
import { model, runExperiment, tempDir, testConfig, uniqueId, useTemporal } from './support/harness.js';
import {
  answerScript,
  FLAWED_REASONING_MARKER,
  goldTable,
  startScriptedServer,
  type ModelScript,
} from './support/scripted-server.js';

process.env.WCSE_TEST_API_KEY = 'sk-test-label';

const run = promisify(execFile);
function wcse(args: string[], home: string) {
  return run(process.execPath, ['bin/wcse.js', ...args], {
    env: { ...process.env, TEMPORAL_ADDRESS: inject('temporalAddress'), WCSE_HOME: home },
    timeout: 120_000,
    maxBuffer: 10 * 1024 * 1024,
  });
}

/** A judge that calls a solution INVALID exactly when it carries the flawed-reasoning marker. */
const judgeScript: ModelScript = {
  respond: (ctx) => ({
    content: ctx.lastUserMessage.includes(FLAWED_REASONING_MARKER) ? 'A wrong step.\nINVALID' : 'VALID',
  }),
};

const QUESTIONS = 12;
const levelOf = (i: number) => `Level ${(i % 3) + 1}`;

async function waitForFile(dir: string, pattern: RegExp, timeoutMs = 20_000): Promise<string> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const found = (await readdir(dir)).find((name) => pattern.test(name));
    if (found) return path.join(dir, found);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  throw new Error(`no file matching ${pattern} appeared in ${dir}`);
}

describe('wcse label: the FPR protocol with human labels', () => {
  const temporal = useTemporal('label');

  it('stratifies the judge sample, round-trips labels through the HTML page and reports kappa', async () => {
    const dir = await tempDir('label');
    const rows = Array.from({ length: QUESTIONS }, (_, k) => {
      const i = k + 1;
      return {
        id: `q${i}`,
        question: `Q${i}: what is ${i} + ${i}?`,
        answer: String(2 * i),
        level: levelOf(i),
      };
    });
    const problemsFile = path.join(dir, 'problems.jsonl');
    await writeFile(problemsFile, rows.map((row) => JSON.stringify(row)).join('\n') + '\n');
    const gold = goldTable(Object.fromEntries(rows.map((row) => [row.question, row.answer])));
    const server = await startScriptedServer({
      models: {
        // WC: 2 of its 4 samples a question correct, flawed on odd questions; SE: both correct, the second flawed.
        weak: answerScript({
          gold,
          correctFraction: 0.5,
          reasoningWords: 5,
          flawed: (s) => Number(/^Q(\d+):/.exec(s.question)?.[1] ?? 0) % 2 === 1,
        }),
        strong: answerScript({ gold, correctFraction: 1, reasoningWords: 5, flawed: (s) => s.variant === 1 }),
        judge: judgeScript,
      },
    });
    const browser = await launchBrowser();
    try {
      const config = testConfig({
        problems: {
          path: problemsFile,
          kind: 'generic',
          fields: { question: 'question', answer: 'answer', id: 'id', level: 'level' },
        },
        models: {
          wc: model(server.baseURL, 'weak', 1e9),
          se: model(server.baseURL, 'strong', 2e9),
          judge: model(server.baseURL, 'judge', 70e9),
        },
        budget: { mode: 'ratio', samplesPerQuestion: 2 },
        analysis: { judge: { sampleSize: 12, seed: 3 } },
      });
      const experimentId = uniqueId('label');
      const runDir = path.join(dir, 'run');
      const result = await runExperiment(temporal.client, temporal.worker.taskQueue, {
        experimentId,
        runDir,
        config,
      });

      // The judge: 12 of 24 correct solutions per source, 4 from each level (proportional: 8 of each).
      const judgedByLevel = async (source: string) => {
        const files = await readdir(path.join(runDir, 'judge', source));
        const counts: Record<string, number> = {};
        for (const file of files) {
          const question = Number(/^q(\d+)-/.exec(file)![1]);
          counts[levelOf(question)] = (counts[levelOf(question)] ?? 0) + 1;
        }
        return counts;
      };
      for (const source of ['wc', 'se'] as const) {
        expect(result.fpr[source]).toMatchObject({ judged: 12, correctSamples: 24, stratifiedByLevel: true });
        expect(await judgedByLevel(source)).toEqual({ 'Level 1': 4, 'Level 2': 4, 'Level 3': 4 });
      }

      // The sheet: 6 per source, 2 per level, inside the judge's sample.
      const sheetRun = await wcse(['label', experimentId, '--per-source', '6'], dir);
      expect(sheetRun.stdout).toMatch(/6 WC \+ 6 SE correct-answer solutions/);
      const sheet = JSON.parse(await readFile(path.join(runDir, 'labels/sheet.json'), 'utf8')) as SheetFile;
      expect(sheet.items).toHaveLength(12);
      for (const source of ['wc', 'se'] as const) {
        const items = sheet.items.filter((item) => item.source === source);
        expect(items).toHaveLength(6);
        const levels = items.map((item) => item.level).sort();
        expect(levels).toEqual(['Level 1', 'Level 1', 'Level 2', 'Level 2', 'Level 3', 'Level 3']);
        const judged = new Set(await readdir(path.join(runDir, 'judge', source)));
        for (const item of items) expect(judged).toContain(`${item.questionId}-${item.sampleIndex}.json`);
      }
      const csv = parseCsv(await readFile(path.join(runDir, 'labels/sheet.csv'), 'utf8'));
      expect(csv.errors).toEqual([]);
      expect(csv.records[0].fields).toEqual([
        'id',
        'source',
        'level',
        'question',
        'solution',
        'reference_answer',
        'label',
      ]);
      expect(csv.records.slice(1).map((record) => record.fields[0])).toEqual(
        sheet.items.map((item) => item.id),
      );
      const htmlFile = path.join(runDir, 'labels/sheet.html');
      const html = await readFile(htmlFile, 'utf8');
      // Self-contained: no tag loads anything (a CSP forbids it too), no URL, no CSS import.
      expect(html).not.toMatch(/<[a-z]+[^>]*\s(src|href)\s*=/i);
      expect(html).not.toMatch(/@import|url\(/);
      expect(html).not.toMatch(/https?:\/\//);

      // The page, in a real browser: label by clicks (the judge's verdict except one SE solution, flipped;
      // the last solution left unlabelled), then export.
      const page = await browser.newPage();
      const requested: string[] = [];
      page.on('request', (request) => requested.push(request.url()));
      const downloads = await tempDir('label-downloads');
      const session = await browser.target().createCDPSession();
      await session.send('Browser.setDownloadBehavior', { behavior: 'allow', downloadPath: downloads });
      await page.goto(pathToFileURL(htmlFile).href);
      expect(await page.$eval('#progress', (el) => el.textContent)).toBe('0 / 12 labelled');
      const sections = await page.$$('section.item');
      expect(sections).toHaveLength(12);
      const given = new Map<string, 'valid' | 'invalid'>();
      let flipped: string | null = null;
      for (const [index, section] of sections.entries()) {
        const id = await section.evaluate((el) => el.getAttribute('data-id')!);
        const text = await section.evaluate((el) => el.textContent ?? '');
        expect(text).toContain(sheet.items[index].question);
        if (index === sections.length - 1) continue;
        let label: 'valid' | 'invalid' = text.includes(FLAWED_REASONING_MARKER) ? 'invalid' : 'valid';
        if (!flipped && id.startsWith('se/')) {
          flipped = id;
          label = label === 'valid' ? 'invalid' : 'valid';
          // A first click on the other label, then the chosen one: the last click wins.
          await (await section.$(`button[data-label="${label === 'valid' ? 'invalid' : 'valid'}"]`))!.click();
        }
        await (await section.$(`button[data-label="${label}"]`))!.click();
        given.set(id, label);
      }
      expect(flipped).not.toBeNull();
      expect(await page.$eval('#progress', (el) => el.textContent)).toBe('11 / 12 labelled');
      // Labels survive a reload (kept in the browser while the labeller works).
      await page.reload();
      expect(await page.$eval('#progress', (el) => el.textContent)).toBe('11 / 12 labelled');
      await page.click('#export');
      const exported = await waitForFile(downloads, /^labels-.*\.csv$/);
      expect(requested.every((url) => /^(file|blob|data):/.test(url))).toBe(true);

      // A bad file is refused with file, line and field; nothing is folded in.
      const bad = path.join(dir, 'bad.csv');
      await writeFile(bad, `id,label\r\n"wc/nope#0",valid\r\n"${sheet.items[0].id}",maybe\r\n`);
      const refused = (await wcse(['label', experimentId, '--import', bad], dir).catch(
        (e: unknown) => e,
      )) as {
        code: number;
        stderr: string;
      };
      expect(refused.code).toBe(2);
      expect(refused.stderr).toContain(`${bad}:line 2: field id: "wc/nope#0" is not an item`);
      expect(refused.stderr).toContain(`${bad}:line 3: field label: "maybe" is not valid, invalid or empty`);
      await expect(readFile(path.join(runDir, 'labels/human.json'))).rejects.toThrow(/ENOENT/);

      // The export imports (by run directory as well as by id), and the report picks the labels up.
      const imported = await wcse(['label', runDir, '--import', exported], dir);
      expect(imported.stdout).toMatch(/Imported 11 labels/);
      expect(imported.stdout).toMatch(/SE: human FPR .*Cohen's kappa/);
      const human = JSON.parse(await readFile(path.join(runDir, 'labels/human.json'), 'utf8'));
      expect(Object.keys(human.labels)).toHaveLength(11);
      for (const [id, label] of given) expect(human.labels[id].label).toBe(label);

      const reported = await wcse(['report', experimentId], dir);
      expect(reported.stderr).toMatch(/Human labels were imported after the report/);
      const doc = JSON.parse(await readFile(path.join(runDir, 'report.json'), 'utf8')) as ReportDocument;
      for (const source of ['wc', 'se'] as const) {
        // Expected table, from the labels given and the judge's saved verdicts.
        const expected = { n: 0, bothInvalid: 0, bothValid: 0, firstInvalidOnly: 0, secondInvalidOnly: 0 };
        for (const [id, label] of given) {
          const item = sheet.items.find((entry) => entry.id === id)!;
          if (item.source !== source) continue;
          const judgment = JSON.parse(
            await readFile(
              path.join(runDir, 'judge', source, `${item.questionId}-${item.sampleIndex}.json`),
              'utf8',
            ),
          );
          expected.n++;
          if (label === 'invalid' && judgment.verdict === 'invalid') expected.bothInvalid++;
          else if (label === 'valid' && judgment.verdict === 'valid') expected.bothValid++;
          else if (label === 'invalid') expected.firstInvalidOnly++;
          else expected.secondInvalidOnly++;
        }
        const entry = doc.data[source].human!;
        expect(entry.agreement).toMatchObject(expected);
        expect(entry.human.n).toBe(expected.n);
        expect(entry.human.invalid).toBe(expected.bothInvalid + expected.firstInvalidOnly);
        expect(entry.judgeOnSame.invalid).toBe(expected.bothInvalid + expected.secondInvalidOnly);
      }
      // WC was labelled as the judge said, both ways: perfect agreement; SE has one disagreement.
      const wcLabels = [...given].filter(([id]) => id.startsWith('wc/')).map(([, label]) => label);
      expect(new Set(wcLabels)).toEqual(new Set(['valid', 'invalid']));
      expect(doc.data.wc.human!.agreement.kappa).toBe(1);
      expect(doc.data.se.human!.agreement.kappa).toBeLessThan(1);
      const markdown = await readFile(path.join(runDir, 'report.md'), 'utf8');
      expect(markdown).toContain('Human labels against the judge');
      expect(markdown).toMatch(/stratified by level/);
    } finally {
      await browser.close();
      await server.close();
    }
  });
});
