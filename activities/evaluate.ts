// Evaluation of one model on one held-out test set: sampled like training data (saved as paid for, never
// paid twice), graded by the project's verifier, summarised as accuracy with a 95% interval; optionally a
// second, sampled pass gives the maj@k curve (core/majority.ts).
//
// An evaluation's identity is everything its numbers depend on: the served model and endpoint, prompt,
// sampling settings, samples per question, the test set's name and content, and the answer format. Each
// pass is stored under a fingerprint of that identity (`eval/<evalId>/<pass>-<fingerprint>/`), so running
// again in the same run directory with another split, temperature or model evaluates anew, and the
// unchanged pass is reused. The result also names the grading (verifier version, last-number fallback):
// a change there regrades the saved samples without sampling again.
import { Context } from '@temporalio/activity';
import type { DataSource, ModelConfig } from '../core/config.js';
import { majorityCurve, type Vote } from '../core/majority.js';
import { wilsonInterval } from '../core/metrics.js';
import { EMPTY_LEDGER, addLedgers, type Ledger, type Problem, type SampleRecord } from '../core/records.js';
import { evalBatchKey, evalPassResultKey, evalProblemsKey } from '../core/layout.js';
import type { EvalResult, MajorityResult, Setup } from '../core/results.js';
import { gradeCompletion, VERIFIER_VERSION, type AnswerFormat, type Verdict } from '../core/verify/index.js';
import { heartbeatEvery } from './heartbeat.js';
import { loadProblemSet } from './run-data.js';
import { readFinishedBatch, sampleQuestions } from './sampling.js';
import { openStore, readJson, sha256, toJsonl, writeJson, type ArtifactStore } from './store.js';

export interface EvaluateInput {
  runDir: string;
  /** The evaluation's name: `base-<model>` or `<setup>-on-<source>`, with `.<testSet>` for named sets. */
  evalId: string;
  kind: 'base' | 'finetuned';
  setup: Setup;
  data: DataSource | null;
  /** The served model: endpoint, id, prompt and sampling parameters for evaluation (greedy pass@1). */
  model: ModelConfig;
  samples: number;
  batchSize: number;
  format: AnswerFormat;
  /** The test set's name (`evaluation.testSets` key; "test" for a single split). Absent: "test". */
  testSet?: string;
  /** The maj@k pass: the same model at the majority temperature, `samples` per question, reported at each k. */
  majority?: { model: ModelConfig; samples: number; k: number[] } | null;
  /** `verifier.lastNumberFallback` (absent: the answer format's default). */
  lastNumberFallback?: boolean;
}

/** One pass over the test set: its samples graded, per question in test-set order. */
interface PassOutcome {
  fingerprint: string;
  verdicts: Verdict[][];
  ledger: Ledger;
}

export async function evaluateModel(input: EvaluateInput): Promise<EvalResult> {
  const store = openStore(input.runDir);
  const testSet = input.testSet ?? 'test';
  const problemsKey = evalProblemsKey(testSet);
  const problems = (await loadProblemSet(store, problemsKey)).list;
  const testSetSha256 = sha256(toJsonl(problems));
  const identity = { testSet, testSetSha256, format: input.format };
  const greedyId = passFingerprint(identity, input.model, input.samples);
  const majorityId = input.majority
    ? passFingerprint(identity, input.majority.model, input.majority.samples)
    : null;
  // Grading is part of a result's identity too (regraded, never resampled, when it changes).
  const grading = sha256(JSON.stringify([VERIFIER_VERSION, input.lastNumberFallback ?? null])).slice(0, 8);
  const resultKey = evalPassResultKey(
    input.evalId,
    `result-${greedyId}${majorityId ? `-${majorityId}` : ''}-${grading}`,
  );
  const finished = await readJson<EvalResult>(store, resultKey);
  if (finished) return finished;

  const beat = heartbeatEvery(Context.current());
  const greedy = await runPass(
    store,
    input,
    problems,
    input.model,
    input.samples,
    `greedy-${greedyId}`,
    beat,
  );
  let correct = 0;
  let passAtK = 0;
  let majAtK = 0;
  const byLevel: EvalResult['byLevel'] = {};
  for (const [index, problem] of problems.entries()) {
    const verdicts = greedy.verdicts[index];
    const first = verdicts[0]?.correct ?? false;
    if (first) correct++;
    if (verdicts.some((v) => v.correct)) passAtK++;
    if (majorityCorrect(verdicts)) majAtK++;
    if (problem.level) {
      const level = (byLevel[problem.level] ??= { n: 0, correct: 0, accuracy: 0 });
      level.n++;
      if (first) level.correct++;
      level.accuracy = level.correct / level.n;
    }
  }
  let ledger = greedy.ledger;
  let majority: MajorityResult | null = null;
  if (input.majority && majorityId) {
    const { model, samples, k } = input.majority;
    const sampled = await runPass(store, input, problems, model, samples, `majority-${majorityId}`, beat);
    ledger = addLedgers(ledger, sampled.ledger);
    const votes = sampled.verdicts.map((verdicts) =>
      verdicts.map((v): Vote => ({ answer: v.normalized, correct: v.correct })),
    );
    majority = {
      temperature: model.sampling.temperature,
      samples,
      fingerprint: sampled.fingerprint,
      curve: majorityCurve(
        votes,
        [...k].sort((a, b) => a - b),
      ),
    };
  }
  const n = problems.length;
  const result: EvalResult = {
    evalId: input.evalId,
    testSet,
    fingerprint: greedy.fingerprint,
    model: input.model.model,
    baseURL: input.model.baseURL,
    kind: input.kind,
    setup: input.setup,
    data: input.data,
    n,
    correct,
    accuracy: n ? correct / n : 0,
    ci: wilsonInterval(correct, n),
    k: input.samples,
    passAtK: input.samples > 1 ? passAtK / n : null,
    majAtK: input.samples > 1 ? majAtK / n : null,
    majority,
    byLevel,
    ledger,
    verifierVersion: VERIFIER_VERSION,
  };
  await writeJson(store, resultKey, result);
  return result;
}

/** What a pass's numbers depend on, hashed: a changed setting is a different pass. */
function passFingerprint(
  identity: { testSet: string; testSetSha256: string; format: AnswerFormat },
  model: ModelConfig,
  samples: number,
): string {
  return sha256(
    JSON.stringify({
      ...identity,
      model: model.model,
      baseURL: model.baseURL,
      prompt: model.prompt,
      sampling: model.sampling,
      samples,
    }),
  ).slice(0, 12);
}

/** Samples every test question `samples` times (batches saved as paid for) and grades them. */
async function runPass(
  store: ArtifactStore,
  input: EvaluateInput,
  problems: Problem[],
  model: ModelConfig,
  samples: number,
  pass: string,
  beat: ReturnType<typeof heartbeatEvery>,
): Promise<PassOutcome> {
  const batches: Problem[][] = [];
  for (let start = 0; start < problems.length; start += input.batchSize) {
    batches.push(problems.slice(start, start + input.batchSize));
  }
  const summaries = await Promise.all(
    batches.map((questions, index) =>
      sampleQuestions({
        store,
        key: evalBatchKey(input.evalId, pass, index),
        label: input.evalId,
        model,
        questions,
        samplesPerQuestion: samples,
        firstSampleIndex: 0,
        round: 0,
        countPromptTokens: false,
      }),
    ),
  );
  const byQuestion = new Map<string, SampleRecord[]>();
  for (const summary of summaries) {
    for (const sample of (await readFinishedBatch(store, summary.key)) ?? []) {
      const list = byQuestion.get(sample.questionId) ?? [];
      list.push(sample);
      byQuestion.set(sample.questionId, list);
    }
  }
  const verdicts: Verdict[][] = [];
  for (const [index, problem] of problems.entries()) {
    await beat({ pass, questionsGraded: index });
    const list = (byQuestion.get(problem.id) ?? []).sort((a, b) => a.sampleIndex - b.sampleIndex);
    verdicts.push(list.map((s) => gradeTestOutput(s, problem, input)));
  }
  return {
    fingerprint: pass,
    verdicts,
    ledger: summaries.reduce((sum, s) => addLedgers(sum, s.ledger), EMPTY_LEDGER),
  };
}

/** Grades one test output as its evaluation does: the test set's answer format, `lastNumberFallback`. */
export function gradeTestOutput(
  sample: Pick<SampleRecord, 'text' | 'finishReason'>,
  problem: Problem,
  grading: Pick<EvaluateInput, 'format' | 'lastNumberFallback'>,
): Verdict {
  return gradeCompletion(sample.text, problem.gold, grading.format, {
    finishReason: sample.finishReason,
    lastNumberFallback: grading.lastNumberFallback,
  });
}

/** maj@k of the greedy pass's k samples: the most frequent extracted answer (ties: the earliest) is correct. */
function majorityCorrect(verdicts: Array<{ normalized: string | null; correct: boolean }>): boolean {
  const counts = new Map<string, { count: number; correct: boolean; first: number }>();
  verdicts.forEach((verdict, index) => {
    if (verdict.normalized === null) return;
    const entry = counts.get(verdict.normalized) ?? { count: 0, correct: verdict.correct, first: index };
    entry.count++;
    counts.set(verdict.normalized, entry);
  });
  let best: { count: number; correct: boolean; first: number } | null = null;
  for (const entry of counts.values()) {
    if (!best || entry.count > best.count || (entry.count === best.count && entry.first < best.first))
      best = entry;
  }
  return best?.correct ?? false;
}
