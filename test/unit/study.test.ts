// The study config (core/study.ts) and its plan (core/study-plan.ts): field-named errors, arms expanded
// into views, and the work and cost arms share, checked against hand computations on a small study.
import { describe, expect, it } from 'vitest';
import { planComputeMatched } from '../../core/plan.js';
import {
  armExperimentConfig,
  formatIssue,
  isStudyDocument,
  studyIssues,
  type StudyConfig,
} from '../../core/study.js';
import { armQuestions, planStudy, type PlanQuestion, type StudyPlanInputs } from '../../core/study-plan.js';

const model = (name: string, params: number, outputPerMillion?: number) => ({
  model: name,
  baseURL: 'http://127.0.0.1:1/v1',
  params,
  sampling: { maxTokens: 100 },
  ...(outputPerMillion !== undefined ? { price: { inputPerMillion: 0, outputPerMillion } } : {}),
});

/** A study document: models a (9e9, $1/M out), b (27e9, $3/M out), s (7e9); pool p of a vs b. */
function document(overrides: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    name: 'small',
    models: { a: model('weak', 9e9, 1), b: model('strong', 27e9, 3), s: model('student', 7e9) },
    pools: { p: { problems: { path: 'x.jsonl', kind: 'generic' }, wc: 'a', se: 'b' } },
    arms: [{ name: 'low', budget: { mode: 'ratio', samplesPerQuestion: 1 } }],
    ...overrides,
  };
}

function validStudy(overrides: Record<string, unknown> = {}): StudyConfig {
  const { study, issues } = studyIssues(document(overrides));
  if (!study) throw new Error(issues.map(formatIssue).join('\n'));
  return study;
}

function errorsOf(overrides: Record<string, unknown>): string[] {
  const { study, issues } = studyIssues(document(overrides));
  expect(study).toBeNull();
  return issues.map(formatIssue);
}

const questions = (count: number, promptTokens = 0): PlanQuestion[] =>
  Array.from({ length: count }, (_, i) => ({
    id: `q${i}`,
    promptTokens: {
      wc: { expected: promptTokens, upperBound: 2 * promptTokens },
      se: { expected: promptTokens, upperBound: 2 * promptTokens },
    },
  }));

const inputs = (count: number, testQuestions = 5): StudyPlanInputs => ({
  pools: { p: { questions: questions(count), validationQuestions: 0 } },
  testSets: { test: testQuestions },
});

// One sample: 100 tokens (max_tokens, no estimate given) at 2P FLOPs per token.
const WC_SAMPLE = 2 * 9e9 * 100;
const SE_SAMPLE = 2 * 27e9 * 100;

describe('study config validation', () => {
  it('tells a study from an experiment by its top-level arms', () => {
    expect(isStudyDocument(document())).toBe(true);
    expect(isStudyDocument({ name: 'x', budget: { mode: 'ratio' } })).toBe(false);
  });

  it('names the field of a schema error', () => {
    const errors = errorsOf({
      arms: [{ name: 'x', samples: { wc: 1, se: 1 }, filter: 'vote' }],
      pools: { p: { problems: { path: 'x.jsonl', kind: 'generic' }, wc: 'a' } },
    });
    expect(errors).toEqual(
      expect.arrayContaining([
        expect.stringMatching(/^arms\.0\.filter: /),
        expect.stringMatching(/^pools\.p\.se: /),
      ]),
    );
    expect(errorsOf({ arms: [] })).toEqual([expect.stringMatching(/^arms: /)]);
  });

  it('names the field of a cross-field error', () => {
    const errors = errorsOf({
      pools: { p: { problems: { path: 'x.jsonl', kind: 'generic' }, wc: 'a', se: 'missing' } },
      arms: [
        { name: 'both', budget: { mode: 'ratio', samplesPerQuestion: 1 }, samples: { wc: 1, se: 1 } },
        { name: 'vote', samples: { wc: 1, se: 5 }, filter: 'majority' },
        { name: 'vote', views: [{ source: 'wc' }, { source: 'gold', samples: 2 }], filter: 'judge' },
        { name: 'eval', samples: { wc: 1, se: 1 }, testSets: ['math500'] },
      ],
    });
    expect(errors).toEqual(
      expect.arrayContaining([
        expect.stringMatching(/^pools\.p\.se: no model named "missing"/),
        expect.stringMatching(
          /^arms\.0\.samples: give one of budget, samples or views, not budget and samples/,
        ),
        expect.stringMatching(/^arms\.1\.samples\.wc: the majority filter .* 1 cannot make a majority/),
        expect.stringMatching(/^arms\.2\.name: "vote" names two arms/),
        expect.stringMatching(/^arms\.2\.views\.0\.samples: samples per question to read from wc/),
        expect.stringMatching(/^arms\.2\.views\.1\.samples: the gold source has one solution per question/),
        expect.stringMatching(/^arms\.2\.filter: the judge filter needs a judge model/),
        expect.stringMatching(/^arms\.3\.testSets\.0: no test set named "math500"/),
      ]),
    );
    expect(errors.some((e) => e.startsWith('arms.1.samples.se'))).toBe(false);
  });

  it('refuses an arm that reads more samples than its pool draws', () => {
    const errors = errorsOf({
      pools: {
        p: {
          problems: { path: 'x.jsonl', kind: 'generic' },
          wc: 'a',
          se: 'b',
          samplesPerQuestion: { wc: 3 },
        },
      },
      arms: [{ name: 'x', views: [{ source: 'wc', samples: 4 }] }],
    });
    expect(errors).toEqual([
      expect.stringMatching(/^arms\.0\.views\.0\.samples: 4 samples .* draws 3 from wc/),
    ]);
  });

  it('needs the pool named when there are several', () => {
    const pool = { problems: { path: 'x.jsonl', kind: 'generic' }, wc: 'a', se: 'b' };
    expect(errorsOf({ pools: { p: pool, q: pool } })).toEqual([
      expect.stringMatching(/^arms\.0\.pool: the study has 2 pools: name one/),
    ]);
  });
});

describe('study plan', () => {
  // low: 1 SE vs 3 WC; high: 2 vs 6; number-matched 1 vs 1; keep-one: 6 WC keeping one correct; sub: 8 WC
  // vs 1 SE on a 4-question subset. No finetuning: data only.
  const arms = [
    { name: 'low', budget: { mode: 'ratio', samplesPerQuestion: 1 } },
    { name: 'high', budget: { mode: 'ratio', samplesPerQuestion: 2 } },
    { name: 'nm', samples: { wc: 1, se: 1 } },
    { name: 'keep-one', views: [{ source: 'wc', samples: 6, keep: 'one' }] },
    { name: 'sub', samples: { wc: 8, se: 1 }, subset: { size: 4, seed: 0 } },
  ];

  it('draws the most samples any arm reads, per question, once', () => {
    const plan = planStudy(validStudy({ arms }), inputs(10));
    const [low, high, nm, keepOne, sub] = plan.arms;
    expect(low.views.map((v) => v.name)).toEqual(['wc@3', 'se@1']);
    expect(high.views.map((v) => v.name)).toEqual(['wc@6', 'se@2']);
    expect(sub.questions).toBe(4);
    // Each arm alone.
    expect(low.cost.sampling).toEqual({
      samples: 40,
      flops: 30 * WC_SAMPLE + 10 * SE_SAMPLE,
      usd: expect.closeTo(0.006),
    });
    expect(high.cost.sampling.samples).toBe(80);
    expect(nm.cost.sampling.flops).toBeCloseTo(10 * WC_SAMPLE + 10 * SE_SAMPLE);
    expect(keepOne.cost.sampling.flops).toBeCloseTo(60 * WC_SAMPLE);
    expect(sub.cost.sampling.flops).toBeCloseTo(32 * WC_SAMPLE + 4 * SE_SAMPLE);
    expect(plan.unshared.sampling.samples).toBe(40 + 80 + 20 + 60 + 36);
    // Shared: WC 8 for the 4 subset questions and 6 for the other 6; SE 2 for all 10.
    const wc = plan.draws.find((d) => d.uses.includes('p.wc'))!;
    expect(wc.levels).toEqual([
      { samplesPerQuestion: 8, questions: 4 },
      { samplesPerQuestion: 6, questions: 6 },
    ]);
    expect(plan.shared.sampling.samples).toBe(68 + 20);
    expect(plan.shared.sampling.flops).toBeCloseTo(68 * WC_SAMPLE + 20 * SE_SAMPLE);
    expect(plan.shared.sampling.usd).toBeCloseTo(68 * 100 * 1e-6 + 20 * 100 * 3e-6);
    // nm's se@1 is low's se@1; keep-one differs from high's wc@6 by what it keeps.
    expect(plan.counts.datasets).toEqual({ unshared: 9, shared: 8 });
    expect(plan.counts.draws).toEqual({ unshared: 9, shared: 2 });
    expect(nm.views[1].dataset).toBe(low.views[1].dataset);
    expect(keepOne.views[0].dataset).not.toBe(high.views[0].dataset);
  });

  it("takes S_WC and the arm's sampling cost from core/plan.ts", () => {
    const study = validStudy({ arms });
    const plan = planStudy(study, {
      ...inputs(10),
      pools: { p: { questions: questions(10, 40), validationQuestions: 0 } },
    });
    const high = study.arms[1];
    const reference = planComputeMatched(armExperimentConfig(study, 'p', high.budget), {
      questions: 10,
      promptTokens: {
        wc: { expectedPerRequestSum: 400, upperBoundPerRequestSum: 800, upperBoundPerRequestMax: 80 },
        se: { expectedPerRequestSum: 400, upperBoundPerRequestSum: 800, upperBoundPerRequestMax: 80 },
      },
    });
    expect(plan.arms[1].plan?.wc.samplesPerQuestion).toBe(6);
    expect(plan.arms[1].cost.sampling.flops).toBeCloseTo(
      reference.wc.expectedFlops + reference.se.expectedFlops,
    );
    expect(plan.arms[1].cost.sampling.usd).toBeCloseTo(
      reference.wc.expectedCostUsd! + reference.se.expectedCostUsd!,
    );
  });

  it("draws a FLOPs budget's full rounds and its top-up from the pool", () => {
    // WC: a round of 10 x 100 tokens costs 1.8e13; 6.3e13 buys 3 rounds and 5 top-up samples (each
    // starts while its worst case, 1.8e12, fits). SE: 1 round (5.4e13) and 1 top-up sample.
    const plan = planStudy(
      validStudy({
        arms: [
          { name: 'flops', budget: { mode: 'flops', flopsPerSource: 6.3e13 } },
          { name: 'low', budget: { mode: 'ratio', samplesPerQuestion: 1 } },
        ],
      }),
      inputs(10),
    );
    expect(plan.arms[0].plan?.wc).toMatchObject({ samplesPerQuestion: 3, expectedTopUpSamples: 5 });
    expect(plan.arms[0].cost.sampling.samples).toBe(30 + 5 + 10 + 1);
    expect(plan.arms[0].cost.sampling.flops).toBeLessThanOrEqual(2 * 6.3e13);
    const wc = plan.draws.find((d) => d.uses.includes('p.wc'))!;
    expect(wc.levels).toEqual([
      { samplesPerQuestion: 4, questions: 5 },
      { samplesPerQuestion: 3, questions: 5 },
    ]);
    // The low arm's 3 WC and 1 SE per question are inside the flops arm's draw: nothing more is drawn.
    expect(plan.shared.sampling.samples).toBe(46);
  });

  it('runs shared finetuning jobs and evaluations once', () => {
    const finetuned = {
      setups: { student: 's', wc: 'a' },
      finetune: { steps: 10, batchSize: 2 },
      evaluation: { problems: { path: 't.jsonl', kind: 'generic' }, samples: 1, maxTokens: 50 },
    };
    const plan = planStudy(
      validStudy({
        ...finetuned,
        arms: [
          { name: 'low', budget: { mode: 'ratio', samplesPerQuestion: 1 }, gold: true },
          { name: 'again', samples: { wc: 3, se: 1 } },
          { name: 'longer', samples: { wc: 3, se: 1 }, steps: 20, setups: ['wc'] },
        ],
      }),
      inputs(10, 5),
    );
    // low: 3 datasets x 2 setups; again: its 2 datasets are low's, so are its jobs; longer: other steps.
    expect(plan.counts.datasets).toEqual({ unshared: 7, shared: 3 });
    expect(plan.counts.jobs).toEqual({ unshared: 6 + 4 + 2, shared: 6 + 2 });
    // Finetuned evaluations: one per job here (one learning rate); base: student and WC model once each.
    expect(plan.counts.evaluations).toEqual({ unshared: 6 + 2 + 4 + 2 + 2 + 1, shared: 6 + 2 + 2 });
    // Training: 6P per token, steps x batch x 100 tokens; evaluation: 2P x 5 questions x 50 tokens.
    const train = (params: number, steps: number) => 6 * params * steps * 2 * 100;
    const evaluate = (params: number) => 2 * params * 5 * 50;
    expect(plan.arms[0].cost.training.flops).toBeCloseTo(3 * (train(7e9, 10) + train(9e9, 10)));
    expect(plan.arms[0].cost.evaluation.flops).toBeCloseTo(4 * (evaluate(7e9) + evaluate(9e9)));
    expect(plan.shared.training.flops).toBeCloseTo(
      3 * (train(7e9, 10) + train(9e9, 10)) + 2 * train(9e9, 20),
    );
    expect(plan.unshared.training.flops).toBeCloseTo(
      3 * (train(7e9, 10) + train(9e9, 10)) + 2 * (train(7e9, 10) + train(9e9, 10)) + 2 * train(9e9, 20),
    );
    // The study's total is the sum of its distinct items.
    const items = [...plan.draws, ...plan.jobs, ...plan.evaluations].reduce(
      (sum, item) => sum + item.cost.flops,
      0,
    );
    expect(plan.shared.total.flops).toBeCloseTo(items);
  });

  it("judges each draw's samples once for every judge-filtered dataset", () => {
    const plan = planStudy(
      validStudy({
        judge: 'b',
        arms: [
          { name: 'high', budget: { mode: 'ratio', samplesPerQuestion: 2 }, filter: 'judge' },
          { name: 'nm', samples: { wc: 1, se: 1 }, filter: 'judge' },
          { name: 'gold', samples: { wc: 1, se: 1 } },
        ],
      }),
      inputs(10),
    );
    expect(plan.counts.judgings).toEqual({ unshared: 4, shared: 2 });
    // Verdicts on 6 WC + 2 SE samples per question, 100 judge tokens each at 2 x 27e9 FLOPs per token.
    expect(plan.shared.judging.samples).toBe(80);
    expect(plan.unshared.judging.samples).toBe(80 + 20);
    expect(plan.shared.judging.flops).toBeCloseTo(80 * SE_SAMPLE);
    // A judge-filtered dataset is not the gold-filtered one of the same samples.
    expect(plan.arms[1].views[0].dataset).not.toBe(plan.arms[2].views[0].dataset);
  });

  it('reads a seeded subset that only grows with its size', () => {
    const all = questions(50);
    const small = armQuestions({ subset: { size: 10, seed: 3 } }, all).map((q) => q.id);
    const large = armQuestions({ subset: { size: 20, seed: 3 } }, all).map((q) => q.id);
    expect(small).toHaveLength(10);
    expect(large).toEqual(expect.arrayContaining(small));
    expect(armQuestions({ subset: { size: 10, seed: 4 } }, all).map((q) => q.id)).not.toEqual(small);
  });

  it('refuses a subset larger than its pool', () => {
    expect(() =>
      planStudy(
        validStudy({ arms: [{ name: 'x', samples: { wc: 1, se: 1 }, subset: { size: 11 } }] }),
        inputs(10),
      ),
    ).toThrow(/arms\.x\.subset\.size: 11 questions, but pool p has 10/);
  });
});
