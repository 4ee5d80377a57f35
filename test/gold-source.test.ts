// The ground-truth baseline (issue 9, item 7): with `datasets.gold` every setup is also finetuned on the
// problems' human-written solutions, one per training question, exactly like WC and SE data (the same
// steps, batch size, learning-rate grid and checkpoints, the same prompt format, the same evaluation), and
// the report shows it as the paper's GT row. A problem file without solutions is refused at prepare.
import { readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { goldSolutionsOf } from '../activities/gold-dataset.js';
import { readProblemSet } from '../activities/problems.js';
import { GOLD_SOLUTIONS_KEY } from '../core/layout.js';
import type { ComparisonEntry, FinetuneEntry, ReportDocument } from '../core/report/model.js';
import {
  answerScript,
  goldTable,
  startScriptedServer,
  type ScriptedServer,
} from './support/scripted-server.js';
import {
  model,
  problemsBlock,
  rootCauseMessage,
  rootFailureType,
  runExperiment,
  tempDir,
  testConfig,
  useTemporal,
  writeSolvedProblems,
  writeTimesTable,
} from './support/harness.js';

process.env.WCSE_TEST_API_KEY = 'sk-test-gold';

/** Training questions in the file; HOLD_OUT of them are model selection's validation questions. */
const QUESTIONS = 10;
const HOLD_OUT = 2;
const TEST_QUESTIONS = 6;
const LEARNING_RATES = [1e-5, 3e-5];

type ChatLine = { messages: Array<{ role: string; content: string }> };

function parseLines(text: string): ChatLine[] {
  return text
    .split('\n')
    .filter((line) => line.trim() !== '')
    .map((line) => JSON.parse(line) as ChatLine);
}

describe('the gold data source: finetuned in every setup like WC and SE data, reported as GT', () => {
  const temporal = useTemporal('gold-source');
  let server: ScriptedServer;
  let dir: string;
  const files = { train: '', test: '' };
  let solutions: Map<string, string>;

  beforeAll(async () => {
    dir = await tempDir('gold-source');
    const train = await writeSolvedProblems(dir, QUESTIONS);
    const test = await writeTimesTable(dir, {
      name: 'test',
      prefix: 'T',
      factor: 3,
      count: TEST_QUESTIONS,
      id: (i) => `t${i}`,
    });
    solutions = new Map(
      Array.from({ length: QUESTIONS }, (_, k) => {
        const i = k + 1;
        return [`Q${i}: what is ${i} + ${i}?`, `${i} and ${i} make ${2 * i}.\n#### ${2 * i}`];
      }),
    );
    const gold = goldTable(Object.fromEntries([...train.gold, ...test.gold]));
    const script = answerScript({ gold, correctFraction: 0.5 });
    server = await startScriptedServer({
      models: { student: script, weak: script, strong: answerScript({ gold, correctFraction: 1 }) },
      fineTuning: { stepsToFinish: 2 },
    });
    files.train = train.file;
    files.test = test.file;
  });
  afterAll(async () => {
    await server?.close();
  });

  const config = (gold: boolean, trainFile = files.train) =>
    testConfig({
      problems: {
        ...problemsBlock(trainFile),
        fields: { question: 'question', answer: 'answer', id: 'id', solution: 'solution' },
        holdOut: HOLD_OUT,
      },
      models: {
        wc: model(server.baseURL, 'weak', 1e9),
        se: model(server.baseURL, 'strong', 2e9),
        student: model(server.baseURL, 'student', 0.5e9),
      },
      budget: { mode: 'ratio', samplesPerQuestion: 1 },
      datasets: { gold },
      finetune: {
        setups: { student: true, wc: true, se: true },
        steps: 4,
        batchSize: 2,
        learningRates: LEARNING_RATES,
        checkpoints: 2,
        pollIntervalSeconds: 1,
      },
      evaluation: { problems: problemsBlock(files.test) },
      temporal: { heartbeatTimeoutSeconds: 3 },
    });

  it('trains gold in each setup with the same steps, batch size, learning rates and checkpoints as WC and SE', async () => {
    const runDir = path.join(dir, 'run');
    const jobsBefore = server.jobs().length;
    const result = await runExperiment(temporal.client, temporal.worker.taskQueue, {
      runDir,
      config: config(true),
    });

    // One human-written solution per training question (the held-out ones are not training questions).
    const trainQuestions = QUESTIONS - HOLD_OUT;
    expect(result.datasets.gold).toMatchObject({
      source: 'gold',
      correctSamples: trainQuestions,
      train: { examples: trainQuestions, questions: trainQuestions },
      validation: { examples: 0 },
    });

    // Every job the scripted fine-tuning service saw, by (setup, data) as its training file is named.
    const byName = new Map(server.files().map((file) => [file.id, file.filename]));
    const jobs = server.jobs().slice(jobsBefore);
    const cells = new Map<string, typeof jobs>();
    for (const job of jobs) {
      const name = byName.get(job.training_file)!;
      const [, setup, data] = /^(student|wc|se)-(wc|se|gold)-train\.jsonl$/.exec(name)!;
      cells.set(`${setup}/${data}`, [...(cells.get(`${setup}/${data}`) ?? []), job]);
    }
    // 3 setups x 3 data sources x 2 learning rates.
    expect(jobs).toHaveLength(18);
    const shape = (list: typeof jobs) =>
      list
        .map((job) => [
          job.hyperparameters.learning_rate,
          job.hyperparameters.n_steps,
          job.hyperparameters.batch_size,
          job.hyperparameters.n_checkpoints,
        ])
        .sort();
    for (const setup of ['student', 'wc', 'se']) {
      const gold = cells.get(`${setup}/gold`)!;
      expect(shape(gold)).toEqual([
        [1e-5, 4, 2, 2],
        [3e-5, 4, 2, 2],
      ]);
      expect(shape(gold)).toEqual(shape(cells.get(`${setup}/wc`)!));
      expect(shape(gold)).toEqual(shape(cells.get(`${setup}/se`)!));
      // The gold training file: the human-written solutions in the prompt format of the sampled data.
      const goldLines = parseLines(server.fileContent(gold[0].training_file)!);
      expect(goldLines).toHaveLength(trainQuestions);
      for (const line of goldLines) {
        expect(line.messages.map((m) => m.role)).toEqual(['user', 'assistant']);
        expect(line.messages[1].content).toBe(solutions.get(line.messages[0].content)!.trim());
      }
      const wcLine = parseLines(server.fileContent(cells.get(`${setup}/wc`)![0].training_file)!)[0];
      expect(wcLine.messages.map((m) => m.role)).toEqual(['user', 'assistant']);
      expect(solutions.has(wcLine.messages[0].content)).toBe(true);
    }

    // Each setup evaluated its gold model on the test set after the same checkpoint selection.
    for (const setup of result.setups) {
      const gold = setup.runs.gold!;
      expect(gold.finetune.data).toBe('gold');
      expect(gold.evaluation).toMatchObject({ kind: 'finetuned', data: 'gold', n: TEST_QUESTIONS });
      expect(gold.finetune.selection!.learningRates).toEqual(LEARNING_RATES);
      expect(gold.finetune.selection!.grid).toHaveLength(setup.runs.wc!.finetune.selection!.grid.length);
      expect(gold.finetune.training!.steps).toBe(setup.runs.wc!.finetune.training!.steps);
      expect(gold.finetune.training!.batchSize).toBe(setup.runs.se!.finetune.training!.batchSize);
    }

    // report.json: the GT cell of every setup, with n and its interval, and the gold dataset.
    const report = JSON.parse(await readFile(path.join(runDir, 'report.json'), 'utf8')) as ReportDocument;
    expect(report.comparisons).toHaveLength(3);
    for (const row of report.comparisons as ComparisonEntry[]) {
      const gt = row.gold!;
      expect(gt).toMatchObject({ data: 'gold', n: TEST_QUESTIONS, paradigm: 'ground-truth baseline' });
      expect(gt.ci.low).toBeLessThanOrEqual(gt.accuracy);
      expect(gt.ci.high).toBeGreaterThanOrEqual(gt.accuracy);
      expect(gt.ci.high).toBeGreaterThan(gt.ci.low);
    }
    expect(report.finetune.filter((e: FinetuneEntry) => e.data === 'gold')).toHaveLength(3);
    expect(report.goldDataset).toMatchObject({
      trainExamples: trainQuestions,
      correctSamples: trainQuestions,
    });
    expect(report.definitions.groundTruth).toMatch(/human-written solutions/);

    // report.md: the GT row of the paper's layout, one cell per setup with its interval and n.
    const md = await readFile(path.join(runDir, 'report.md'), 'utf8');
    const gtRow = md.split('\n').find((line) => line.startsWith('| **GT** |'));
    expect(gtRow).toBeDefined();
    const gtCells = gtRow!.split('|').slice(2, -1);
    expect(gtCells).toHaveLength(3);
    for (const cell of gtCells) expect(cell).toMatch(/\*\*\d+(\.\d+)?%\*\* \[[^\]]+\], n=6/);
    expect(md).toMatch(/Student-LM on GT data/);
    expect(md).toMatch(/GT: 8 training examples, one human-written solution per training question/);
    const chart = await readFile(path.join(runDir, 'charts', 'finetune.svg'), 'utf8');
    expect(chart).toContain('finetuned on GT data');
  });

  it('without datasets.gold nothing gold is built, trained or reported', async () => {
    const runDir = path.join(dir, 'run-off');
    const jobsBefore = server.jobs().length;
    const result = await runExperiment(temporal.client, temporal.worker.taskQueue, {
      runDir,
      config: {
        ...config(false),
        finetune: { ...config(false).finetune!, setups: { student: true, wc: false, se: false } },
      },
    });
    expect(result.datasets.gold).toBeUndefined();
    expect(server.jobs().length - jobsBefore).toBe(4); // student x (wc, se) x 2 learning rates
    expect(result.setups[0].runs.gold).toBeUndefined();
    const md = await readFile(path.join(runDir, 'report.md'), 'utf8');
    expect(md).not.toMatch(/\| \*\*GT\*\* \|/);
  });

  it('a training problem without a solution fails prepare, naming the file and line, before any request', async () => {
    const bad = await writeSolvedProblems(await tempDir('gold-missing'), QUESTIONS, (i) =>
      i === 3 ? undefined : `${i} and ${i} make ${2 * i}.\n#### ${2 * i}`,
    );
    const missingFile = bad.file;
    const served = server.stats.served;
    const runDir = path.join(dir, 'run-missing');
    const error = await runExperiment(temporal.client, temporal.worker.taskQueue, {
      runDir,
      config: config(true, missingFile),
    }).catch((e: unknown) => e);
    expect(rootFailureType(error)).toBe('DatasetError');
    const message = rootCauseMessage(error);
    expect(message).toContain(missingFile);
    expect(message).toMatch(/line 3: field "solution" .*missing or empty/);
    expect(server.stats.served).toBe(served);
  });
});

describe('gold solutions from the standard problem files (no Temporal)', () => {
  it('reads MATH solutions from `solution` and GSM8K worked answers from `answer`', async () => {
    const dir = await tempDir('gold-fields');
    const math = path.join(dir, 'math.jsonl');
    await writeFile(
      math,
      [
        { problem: 'What is $1+1$?', solution: 'Add: $1+1=\\boxed{2}$.', answer: '2', unique_id: 'm1' },
        { problem: 'What is $2+2$?', solution: 'Add: $2+2=\\boxed{4}$.', answer: '4', unique_id: 'm2' },
      ]
        .map((row) => JSON.stringify(row))
        .join('\n'),
    );
    const gsm8k = path.join(dir, 'gsm8k.jsonl');
    await writeFile(gsm8k, JSON.stringify({ question: 'Ann has 2+3 apples?', answer: '2+3=5\n#### 5' }));
    const base = {
      models: { wc: model('http://x/v1', 'w', 1e9), se: model('http://x/v1', 's', 2e9) },
      budget: { mode: 'ratio', samplesPerQuestion: 1 },
    };
    const mathConfig = testConfig({
      ...base,
      problems: { path: math, kind: 'math' },
      datasets: { gold: true },
    });
    expect(goldSolutionsOf(mathConfig, await readProblemSet(mathConfig.problems))).toEqual([
      { questionId: 'm1', solution: 'Add: $1+1=\\boxed{2}$.' },
      { questionId: 'm2', solution: 'Add: $2+2=\\boxed{4}$.' },
    ]);
    const gsmConfig = testConfig({
      ...base,
      problems: { path: gsm8k, kind: 'gsm8k' },
      datasets: { gold: true },
    });
    expect(goldSolutionsOf(gsmConfig, await readProblemSet(gsmConfig.problems))).toEqual([
      { questionId: 'line-1', solution: '2+3=5\n#### 5' },
    ]);
    // Off by default, and a generic file must name its solution field.
    const generic = testConfig({
      ...base,
      problems: { path: gsm8k, kind: 'generic', fields: { question: 'question', answer: 'answer' } },
    });
    expect(generic.datasets.gold).toBe(false);
    const problems = await readProblemSet(generic.problems);
    expect(goldSolutionsOf(generic, problems)).toBeNull();
    const named = { ...generic, datasets: { ...generic.datasets, gold: true } };
    expect(() => goldSolutionsOf(named, problems)).toThrow(/problems\.fields\.solution/);
    expect(GOLD_SOLUTIONS_KEY).toBe('datasets/gold/solutions.jsonl');
  });
});
