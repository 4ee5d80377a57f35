// The study workflow (workflows/study.ts) against a scripted endpoint and fine-tuning service: a pool drawn
// once at the largest S any arm reads, arms as views on it, distinct jobs trained once, and an added arm
// computed alone on a second run; the majority filter's dataset equals a hand computation.
import { describe, expect, inject, it } from 'vitest';
import { execFile } from 'node:child_process';
import { readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';
import { Worker } from '@temporalio/worker';
import { answerScript, goldTable, startScriptedServer } from './support/scripted-server.js';
import {
  model,
  problemsBlock,
  startWorker,
  tempDir,
  uniqueId,
  useTemporal,
  workerProcessForTest,
  writeProblems,
  writeTimesTable,
} from './support/harness.js';
import { studyProgressQuery, studyWorkflow, type StudyInput } from '../workflows/study.js';
import { FailureType } from '../core/failures.js';
import { rootFailureType, rootCauseMessage } from './support/harness.js';
import { StudyConfigSchema, type StudyConfig } from '../core/study.js';
import { datasetKey, studyDatasetDir } from '../core/layout.js';

process.env.WCSE_TEST_API_KEY = 'sk-test-study';

const QUESTIONS = 6;

/**
 * WC's six samples of each question (by k, the script's per-question sample counter): q1 4 correct and 2
 * wrong (different answers), q2 2 correct and 4 wrong all "7", q3 3 correct and 3 wrong all "7", the rest
 * correct at even k and wrong at odd k with distinct answers. SE: always correct.
 */
function weakScript(gold: ReturnType<typeof goldTable>) {
  const questionOf = (question: string) => Number(question.match(/^Q(\d+):/)?.[1] ?? 0);
  return answerScript({
    gold,
    correct: (s) => {
      const q = questionOf(s.question);
      if (q === 1) return s.k < 4;
      if (q === 2) return s.k < 2;
      if (q === 3) return s.k < 3;
      return s.k % 2 === 0;
    },
    wrongAnswer: (s) => {
      const q = questionOf(s.question);
      if (q === 2 || q === 3) return '7';
      return String(1000 + 10 * q + s.k);
    },
  });
}

describe('study workflow', () => {
  const temporal = useTemporal('study');

  it('draws max-S once, trains the distinct jobs once, and an added arm alone; majority filter by hand', async () => {
    const dir = await tempDir('study');
    const train = await writeProblems(dir, QUESTIONS);
    const test = await writeTimesTable(dir, {
      name: 'test',
      prefix: 'T',
      factor: 3,
      count: 4,
      id: (i) => `t${i}`,
    });
    const gold = goldTable(Object.fromEntries([...train.gold, ...test.gold]));
    const server = await startScriptedServer({
      models: {
        weak: weakScript(gold),
        strong: answerScript({ gold, correctFraction: 1 }),
        student: answerScript({ gold, correctFraction: 0.5 }),
      },
      fineTuning: { modelFor: () => answerScript({ gold, correctFraction: 1 }) },
    });
    try {
      const baseURL = server.baseURL;
      const arms = [
        { name: 'low', budget: { mode: 'ratio', samplesPerQuestion: 1 } },
        { name: 'high', budget: { mode: 'ratio', samplesPerQuestion: 2 } },
        { name: 'number-matched', samples: { wc: 1, se: 1 } },
        { name: 'keep-one', views: [{ source: 'wc', samples: 6, keep: 'one' }] },
      ];
      const studyOf = (armList: unknown[]): StudyConfig =>
        StudyConfigSchema.parse({
          name: 'study-test',
          models: {
            weak: model(baseURL, 'weak', 1e9),
            strong: model(baseURL, 'strong', 3e9),
            student: model(baseURL, 'student', 0.5e9),
          },
          // SE drawn at 3 per question (more than any arm reads): the pool's count, not the ratio plan's
          // (S_WC = 9 at S_SE = 3), decides what each source draws.
          pools: {
            main: {
              problems: problemsBlock(train.file),
              wc: 'weak',
              se: 'strong',
              batchSize: 3,
              samplesPerQuestion: { se: 3 },
            },
          },
          setups: { student: 'student' },
          datasets: { validationFraction: 0 },
          finetune: { hyperparameters: { epochs: 1 }, pollIntervalSeconds: 1 },
          evaluation: { problems: problemsBlock(test.file) },
          temporal: { heartbeatTimeoutSeconds: 5 },
          arms: armList,
        });
      const studyId = uniqueId('study');
      const studyDir = path.join(dir, 'study');
      const run = (study: StudyConfig) =>
        temporal.client.workflow.execute(studyWorkflow, {
          taskQueue: temporal.worker.taskQueue,
          workflowId: studyId,
          args: [{ studyId, studyDir, study } satisfies StudyInput],
        });

      // Run 1: low (WC 3, SE 1), high (WC 6, SE 2), number-matched (1, 1), keep-one (WC 6, one each).
      const first = await run(studyOf(arms));
      expect(first.plan.pools.main).toEqual({ wc: 6, se: 3 });
      const stats = server.stats.perModel;
      // Every question's pool samples drawn once: S_max per question per source, no more.
      expect(stats.weak.servedChoices).toBe(6 * QUESTIONS);
      expect(stats.strong.servedChoices).toBe(3 * QUESTIONS);
      // Distinct datasets: wc@3, se@1 (low and number-matched share it), wc@6, se@2, wc@1, wc@6-one.
      const jobIds = new Set(first.arms.flatMap((arm) => arm.jobs.map((job) => job.jobId)));
      expect(first.arms.flatMap((arm) => arm.jobs)).toHaveLength(7);
      expect(jobIds.size).toBe(6);
      expect(first.arms.flatMap((arm) => arm.jobs).every((job) => job.skipped === null)).toBe(true);
      expect(server.stats.fineTuning.jobsCreated).toBe(6);
      // The shared job gave both arms the same finetuned model.
      const seOne = (name: string) =>
        first.arms.find((arm) => arm.name === name)!.jobs.find((job) => job.view === 'se@1')!;
      expect(seOne('low').fineTunedModel).toBe(seOne('number-matched').fineTunedModel);
      // keep-one: one correct solution per question (every question has one), diversity exactly 1.
      const keepOne = first.arms.find((arm) => arm.name === 'keep-one')!.views[0];
      expect(keepOne.kept).toBe(QUESTIONS);
      expect(keepOne.coverage).toBe(1);
      expect(keepOne.diversity).toBe(1);
      // SE is always correct: its 2-sample view keeps 2 per question.
      expect(first.arms.find((arm) => arm.name === 'high')!.views[1]).toMatchObject({ samples: 2, kept: 12 });
      const report = await readFile(path.join(studyDir, 'report.md'), 'utf8');
      for (const name of ['low', 'high', 'number-matched', 'keep-one'])
        expect(report).toContain(`| ${name} |`);
      expect(report).toMatch(/n=4/);

      // Run 2: the same arms and a majority-vote arm over WC's 6 samples: only the new arm is computed.
      server.resetStats();
      const second = await run(
        studyOf([...arms, { name: 'majority', views: [{ source: 'wc', samples: 6, filter: 'majority' }] }]),
      );
      expect(second.reused).toEqual(['low', 'high', 'number-matched', 'keep-one']);
      expect(server.stats.perModel.weak?.servedChoices ?? 0).toBe(0);
      expect(server.stats.perModel.strong?.servedChoices ?? 0).toBe(0);
      // The student base model's evaluation is found done too; one new job (the majority dataset).
      expect(server.stats.perModel.student?.servedChoices ?? 0).toBe(0);
      expect(server.stats.fineTuning.jobsCreated).toBe(1);

      // By hand: q1 keeps its 4 correct samples; q2's majority is the wrong "7" (4 of 6): its 4 wrong
      // samples; q3 ties 3-3: nothing; q4-q6 3 correct against 3 distinct wrong answers: 3 correct each.
      const majority = second.arms.find((arm) => arm.name === 'majority')!.views[0];
      expect(majority).toMatchObject({ kept: 4 + 4 + 0 + 3 * 3, keptCorrect: 4 + 0 + 0 + 3 * 3, covered: 4 });
      const lines = (
        await readFile(
          path.join(studyDir, studyDatasetDir(majority.datasetId), datasetKey('wc', 'train')),
          'utf8',
        )
      )
        .trim()
        .split('\n')
        .map((line) => JSON.parse(line) as { messages: Array<{ role: string; content: string }> });
      const perQuestion = new Map<string, string[]>();
      for (const { messages } of lines) {
        const question = messages.find((m) => m.role === 'user')!.content.match(/Q(\d+):/)![1];
        const answer = messages.find((m) => m.role === 'assistant')!.content.match(/\\boxed\{([^}]*)\}/)![1];
        perQuestion.set(question, [...(perQuestion.get(question) ?? []), answer]);
      }
      expect(Object.fromEntries(perQuestion)).toEqual({
        '1': ['2', '2', '2', '2'],
        '2': ['7', '7', '7', '7'],
        '4': ['8', '8', '8'],
        '5': ['10', '10', '10'],
        '6': ['12', '12', '12'],
      });

      // The study's and its arms' histories replay against the workflow code (determinism).
      const handle = temporal.client.workflow.getHandle(studyId);
      const progress = await handle.query(studyProgressQuery);
      expect(progress).toMatchObject({
        stage: 'done',
        armsReused: ['low', 'high', 'number-matched', 'keep-one'],
      });
      const armChild = progress.childWorkflowIds.find((id) => id.includes('/arm-majority-'))!;
      for (const workflowId of [studyId, armChild]) {
        const history = await temporal.client.workflow.getHandle(workflowId).fetchHistory();
        await Worker.runReplayHistory(
          { workflowBundle: { codePath: inject('workflowBundlePath') } },
          history,
          workflowId,
        );
      }
    } finally {
      await server.close();
    }
  });

  it('a worker killed mid-study (a job training) and replaced re-pays nothing', async () => {
    const dir = await tempDir('study-crash');
    const train = await writeProblems(dir, 4);
    const test = await writeTimesTable(dir, {
      name: 'test',
      prefix: 'T',
      factor: 3,
      count: 2,
      id: (i) => `t${i}`,
    });
    const gold = goldTable(Object.fromEntries([...train.gold, ...test.gold]));
    const server = await startScriptedServer({
      models: {
        weak: answerScript({ gold, correct: (s) => s.k % 2 === 0 }),
        strong: answerScript({ gold }),
        student: answerScript({ gold, correctFraction: 0.5 }),
      },
      fineTuning: { durationMs: 4000, modelFor: () => answerScript({ gold }) },
    });
    const taskQueue = uniqueId('tq-study-crash');
    try {
      const study = StudyConfigSchema.parse({
        name: 'study-crash',
        models: {
          weak: model(server.baseURL, 'weak', 1e9),
          strong: model(server.baseURL, 'strong', 3e9),
          student: model(server.baseURL, 'student', 0.5e9),
        },
        pools: { main: { problems: problemsBlock(train.file), wc: 'weak', se: 'strong' } },
        setups: { student: 'student' },
        datasets: { validationFraction: 0 },
        finetune: { hyperparameters: { epochs: 1 }, pollIntervalSeconds: 1 },
        evaluation: { problems: problemsBlock(test.file) },
        temporal: { heartbeatTimeoutSeconds: 3 },
        // Distinct datasets: wc@3, se@1 (shared), wc@1: three jobs.
        arms: [
          { name: 'low', budget: { mode: 'ratio', samplesPerQuestion: 1 } },
          { name: 'number-matched', samples: { wc: 1, se: 1 } },
        ],
      });
      const studyId = uniqueId('study-crash');
      const first = await workerProcessForTest(taskQueue);
      const handle = await temporal.client.workflow.start(studyWorkflow, {
        taskQueue,
        workflowId: studyId,
        args: [{ studyId, studyDir: path.join(dir, 'study'), study }],
      });
      await server.waitFor((s) => s.fineTuning.jobsCreated >= 1, 120_000, 'a fine-tuning job started');
      await first.kill();
      const worker = await startWorker(taskQueue);
      try {
        const result = await handle.result();
        expect(result.arms.map((arm) => arm.name)).toEqual(['low', 'number-matched']);
        expect(server.stats.perModel.weak.servedChoices).toBe(3 * 4);
        expect(server.stats.perModel.strong.servedChoices).toBe(1 * 4);
        // The job in flight at the kill was found again (its job.json), not created twice.
        expect(result.arms.flatMap((arm) => arm.jobs).filter((job) => job.skipped !== null)).toEqual([]);
        expect(server.stats.fineTuning.jobsCreated).toBe(3);
      } finally {
        await worker.stop();
      }
    } finally {
      await server.close();
    }
  });

  it('refuses what it does not run yet (the judge filter) with InvalidConfig naming the field', async () => {
    const dir = await tempDir('study-judge');
    const train = await writeProblems(dir, 2);
    const study = StudyConfigSchema.parse({
      name: 'study-judge',
      models: {
        weak: model('http://127.0.0.1:9', 'weak', 1e9),
        strong: model('http://127.0.0.1:9', 'strong', 3e9),
      },
      pools: { main: { problems: problemsBlock(train.file), wc: 'weak', se: 'strong' } },
      judge: 'strong',
      arms: [{ name: 'judged', samples: { wc: 1, se: 1 }, filter: 'judge' }],
    });
    const studyId = uniqueId('study-judge');
    const error = await temporal.client.workflow
      .execute(studyWorkflow, {
        taskQueue: temporal.worker.taskQueue,
        workflowId: studyId,
        args: [{ studyId, studyDir: path.join(dir, 'study'), study }],
      })
      .catch((e: unknown) => e);
    expect(rootFailureType(error)).toBe(FailureType.InvalidConfig);
    expect(rootCauseMessage(error)).toMatch(/arms\.0\.filter: the judge filter/);
  });

  it('wcse run study.yaml starts the study and waits; status shows it; cancel stops a running one', async () => {
    const dir = await tempDir('study-cli');
    const train = await writeProblems(dir, 3);
    const gold = goldTable(Object.fromEntries(train.gold));
    const server = await startScriptedServer({
      models: { weak: answerScript({ gold, correctFraction: 0.5 }), strong: answerScript({ gold }) },
    });
    const wcse = (args: string[]) =>
      promisify(execFile)(process.execPath, ['bin/wcse.js', ...args], {
        env: { ...process.env, TEMPORAL_ADDRESS: inject('temporalAddress') },
        timeout: 120_000,
      });
    const yaml = async (name: string) => {
      const file = path.join(dir, `${name}.yaml`);
      await writeFile(
        file,
        [
          `name: ${name}`,
          `runDir: ${path.join(dir, name)}`,
          'models:',
          `  weak: {model: weak, baseURL: "${server.baseURL}", params: 1e9, apiKeyEnv: WCSE_TEST_API_KEY}`,
          `  strong: {model: strong, baseURL: "${server.baseURL}", params: 3e9, apiKeyEnv: WCSE_TEST_API_KEY}`,
          'pools:',
          `  main: {problems: {path: ${train.file}, kind: generic, fields: {question: question, answer: answer, id: id}}, wc: weak, se: strong}`,
          'arms:',
          '  - {name: low, budget: {mode: ratio, samplesPerQuestion: 1}}',
          `temporal: {taskQueue: ${temporal.worker.taskQueue}, heartbeatTimeoutSeconds: 3}`,
          '',
        ].join('\n'),
      );
      return file;
    };
    try {
      const started = await wcse(['run', await yaml('cli-study'), '--wait']);
      const id = started.stdout.trim();
      expect(id).toMatch(/^study-cli-study-[0-9a-f]{8}$/);
      expect(started.stderr).toMatch(/Study study-cli-study-[0-9a-f]{8} completed/);
      expect(await readFile(path.join(dir, 'cli-study', 'report.md'), 'utf8')).toContain('| low |');
      const status = JSON.parse((await wcse(['status', id, '--json'])).stdout);
      expect(status).toMatchObject({ status: 'COMPLETED', progress: { stage: 'done', armsDone: ['low'] } });

      // A study held in its pool's sampling: cancel closes it and its children.
      server.holdAfter(0);
      const held = (await wcse(['run', await yaml('cli-held')])).stdout.trim();
      await server.waitForHeld(1, 60_000);
      await wcse(['cancel', held]);
      const description = await temporal.client.workflow.getHandle(held).describe();
      expect(description.status.name).toBe('CANCELLED');
    } finally {
      await server.close();
    }
  });
});
