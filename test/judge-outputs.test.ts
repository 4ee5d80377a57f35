// The FPR of evaluated models' test outputs (issue 9 item 6, `evaluation.judgeOutputs`): after each
// evaluation's greedy pass, a seeded sample of its correct outputs is rated by the same judge, prompt and
// endpoint path as the training data's FPR; every judgment is paid for once, and the report shows each
// model's output FPR with n and a Wilson interval. Against the scripted server and a real Temporal server.
import { readdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fprSample } from '../activities/analyse.js';
import { wilsonInterval } from '../core/metrics.js';
import type { EvaluationEntry } from '../core/report/evaluations.js';
import type { ReportDocument } from '../core/report/model.js';
import type { Problem } from '../core/records.js';
import type { EvalResult } from '../core/results.js';
import {
  answerScript,
  FLAWED_REASONING_MARKER,
  goldTable,
  startScriptedServer,
  type ModelScript,
  type ScriptedServer,
} from './support/scripted-server.js';
import {
  model,
  problemsBlock,
  runExperiment,
  tempDir,
  testConfig,
  uniqueId,
  useTemporal,
  writeProblems,
} from './support/harness.js';

process.env.WCSE_TEST_API_KEY = 'sk-test-judge-outputs';

const TEST_QUESTIONS = 12;
const SAMPLE_SIZE = 6;
const SEED = 7;
/** Test question i's difficulty level: the judged sample is stratified by it. */
const levelOf = (i: number) => (i <= 5 ? 'Level 1' : 'Level 2');
/** How many test questions (T1..Tc) each model answers correctly; finetuned: by the data it was trained on. */
const CORRECT: Record<string, number> = { student: 4, 'ft:student:wc': 10, 'ft:student:se': 8 };

/** "T<i>: ..." is answered correctly iff i <= count; correct answers to odd i have flawed reasoning. */
function testScript(gold: ReturnType<typeof goldTable>, count: number): ModelScript {
  const number = (question: string) => Number(question.match(/^T(\d+):/)?.[1] ?? 0);
  return answerScript({
    gold,
    reasoningWords: 5,
    correct: (s) => (number(s.question) ? number(s.question) <= count : true),
    flawed: (s) => number(s.question) % 2 === 1,
  });
}

/** The judge: INVALID exactly when the solution carries the flawed-reasoning marker. */
const judgeScript: ModelScript = {
  respond: (ctx) => ({
    content: ctx.lastUserMessage.includes(FLAWED_REASONING_MARKER) ? 'A wrong step.\nINVALID' : 'VALID',
  }),
};

describe('the judged FPR of evaluated models’ test outputs', () => {
  const temporal = useTemporal('judge-outputs');
  let server: ScriptedServer;
  let dir: string;
  const files = { train: '', test: '' };

  beforeAll(async () => {
    dir = await tempDir('judge-outputs');
    const train = await writeProblems(dir, 6);
    // The test set: "T<i>: what is i times 3?" with a level (the problem-file helpers write none).
    const rows = Array.from({ length: TEST_QUESTIONS }, (_, k) => ({
      id: `t${k + 1}`,
      question: `T${k + 1}: what is ${k + 1} times 3?`,
      answer: String(3 * (k + 1)),
      level: levelOf(k + 1),
    }));
    files.train = train.file;
    files.test = path.join(dir, 'test.jsonl');
    await writeFile(files.test, rows.map((row) => JSON.stringify(row)).join('\n') + '\n');
    const gold = goldTable(Object.fromEntries([...train.gold, ...rows.map((r) => [r.question, r.answer])]));
    server = await startScriptedServer({
      models: {
        weak: testScript(gold, 0),
        strong: testScript(gold, 0),
        student: testScript(gold, CORRECT.student),
        judge: judgeScript,
      },
      fineTuning: {
        stepsToFinish: 2,
        modelFor: (job) =>
          testScript(gold, CORRECT[`ft:${job.model}:${job.suffix!.endsWith('-wc') ? 'wc' : 'se'}`]),
      },
    });
  });
  afterAll(async () => {
    await server?.close();
  });

  const config = (withJudge = true) =>
    testConfig({
      problems: problemsBlock(files.train),
      models: {
        wc: model(server.baseURL, 'weak', 1e9),
        se: model(server.baseURL, 'strong', 2e9),
        student: model(server.baseURL, 'student', 0.5e9),
        ...(withJudge ? { judge: model(server.baseURL, 'judge', 70e9) } : {}),
      },
      budget: { mode: 'ratio', samplesPerQuestion: 1 },
      finetune: {
        setups: { student: true, wc: false, se: false },
        steps: 2,
        batchSize: 2,
        pollIntervalSeconds: 1,
      },
      evaluation: {
        problems: {
          ...problemsBlock(files.test),
          fields: { ...problemsBlock(files.test).fields, level: 'level' },
        },
        batchSize: 5,
        judgeOutputs: { sampleSize: SAMPLE_SIZE, seed: SEED },
      },
      temporal: { heartbeatTimeoutSeconds: 3 },
    });

  it('is refused without a judge model, naming the field', () => {
    expect(() => config(false)).toThrow(/evaluation\.judgeOutputs.*models\.judge/);
  });

  it('judges the configured sample of each evaluation’s correct outputs, once', async () => {
    const runDir = path.join(dir, 'run');
    const experimentId = uniqueId('judge-outputs');
    const judgeServed = () => server.stats.perModel.judge?.served ?? 0;
    const result = await runExperiment(temporal.client, temporal.worker.taskQueue, {
      experimentId,
      runDir,
      config: config(),
    });
    const [setup] = result.setups;
    const evaluations: Array<[string, EvalResult, number]> = [
      ['base-student', setup.base!, CORRECT.student],
      ['student-on-wc', setup.runs.wc!.evaluation, CORRECT['ft:student:wc']],
      ['student-on-se', setup.runs.se!.evaluation, CORRECT['ft:student:se']],
    ];
    let expectedJudgments = 0;
    for (const [evalId, evaluation, correct] of evaluations) {
      expect(evaluation.evalId).toBe(evalId);
      expect(evaluation.correct).toBe(correct);
      // The seeded sample of the correct outputs (T1..Tc, one greedy sample each), or all of them.
      const outputs = Array.from({ length: correct }, (_, i) => ({
        questionId: `t${i + 1}`,
        sampleIndex: 0,
      }));
      const levels = new Map(
        outputs.map((o) => [o.questionId, { level: levelOf(Number(o.questionId.slice(1))) } as Problem]),
      );
      const chosen = fprSample(outputs, levels, SAMPLE_SIZE, SEED);
      expect(chosen).toHaveLength(Math.min(SAMPLE_SIZE, correct));
      const invalid = chosen.filter((o) => Number(o.questionId.slice(1)) % 2 === 1).length;
      expect(evaluation.outputsFpr).toMatchObject({
        evalId,
        kind: evalId.startsWith('base-') ? 'base' : 'finetuned',
        judged: chosen.length,
        invalid,
        unparsed: 0,
        fpr: invalid / chosen.length,
        ci: wilsonInterval(invalid, chosen.length),
        judgeModel: 'judge',
        correctOutputs: correct,
        sampleSize: SAMPLE_SIZE,
        stratifiedByLevel: true,
      });
      // One saved judgment per chosen output, and the pass's result beside them.
      const evalDir = path.join(runDir, 'eval', evalId);
      const judgeDirs = (await readdir(evalDir, { withFileTypes: true })).filter(
        (entry) => entry.isDirectory() && entry.name.startsWith(`judge-${evaluation.fingerprint}-`),
      );
      expect(judgeDirs).toHaveLength(1);
      const saved = (await readdir(path.join(evalDir, judgeDirs[0].name))).sort();
      expect(saved).toEqual(chosen.map((o) => `${o.questionId}-${o.sampleIndex}.json`).sort());
      const written = JSON.parse(await readFile(path.join(evalDir, `${judgeDirs[0].name}.json`), 'utf8'));
      expect(written).toEqual(evaluation.outputsFpr);
      expectedJudgments += chosen.length;
    }
    // The sample is smaller than some evaluations' correct outputs and covers all of the base model's.
    expect(evaluations.some(([, , correct]) => correct > SAMPLE_SIZE)).toBe(true);
    expect(evaluations.some(([, , correct]) => correct < SAMPLE_SIZE)).toBe(true);
    expect(judgeServed()).toBe(expectedJudgments);

    // report.json and report.md: each model's output FPR with n and its interval.
    const report = JSON.parse(await readFile(path.join(runDir, 'report.json'), 'utf8')) as ReportDocument;
    const entries = report.evaluations as EvaluationEntry[];
    expect(entries).toHaveLength(3);
    for (const entry of entries) {
      const [, evaluation] = evaluations.find(([, e]) => e.data === entry.data)!;
      expect(entry.outputsFpr).toMatchObject({
        rate: evaluation.outputsFpr!.fpr,
        ci: evaluation.outputsFpr!.ci,
        judged: evaluation.outputsFpr!.judged,
        invalid: evaluation.outputsFpr!.invalid,
      });
    }
    expect(report.definitions.outputsFpr).toMatch(/INVALID/);
    const markdown = await readFile(path.join(runDir, 'report.md'), 'utf8');
    expect(markdown).toContain('Output FPR [95% CI] (invalid / judged)');
    const se = evaluations[2][1].outputsFpr!;
    expect(markdown).toContain(`(${se.invalid}/${se.judged})`);

    // The same experiment again in the same run directory: every judgment is read back, none is paid twice.
    const again = await runExperiment(temporal.client, temporal.worker.taskQueue, {
      experimentId,
      runDir,
      config: config(),
    });
    expect(judgeServed()).toBe(expectedJudgments);
    expect(again.setups[0].runs.wc!.evaluation.outputsFpr).toEqual(evaluations[1][1].outputsFpr);
  });
});
