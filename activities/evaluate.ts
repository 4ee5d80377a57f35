// Evaluation of one model on the held-out test split: sampled like training data (saved as paid for,
// never paid twice), graded by the project's verifier, summarised as accuracy with a 95% interval.
import { Context } from '@temporalio/activity';
import type { ModelConfig, Source } from '../core/config.js';
import { wilsonInterval } from '../core/metrics.js';
import { EMPTY_LEDGER, addLedgers, type Problem, type SampleRecord } from '../core/records.js';
import { EVAL_PROBLEMS_KEY, evalBatchKey, evalResultKey } from '../core/layout.js';
import type { EvalResult, Setup } from '../core/results.js';
import { gradeCompletion, VERIFIER_VERSION, type AnswerFormat } from '../core/verify/index.js';
import { heartbeatEvery } from './heartbeat.js';
import { loadProblemSet } from './run-data.js';
import { sampleQuestions } from './sampling.js';
import { openStore, readJson, readJsonl, writeJson } from './store.js';

export interface EvaluateInput {
  runDir: string;
  evalId: string;
  kind: 'base' | 'finetuned';
  setup: Setup;
  data: Source | null;
  /** The served model: endpoint, id, prompt and sampling parameters for evaluation. */
  model: ModelConfig;
  samples: number;
  batchSize: number;
  format: AnswerFormat;
}

export async function evaluateModel(input: EvaluateInput): Promise<EvalResult> {
  const store = openStore(input.runDir);
  const resultKey = evalResultKey(input.evalId);
  const finished = await readJson<EvalResult>(store, resultKey);
  if (finished) return finished;
  const problems = (await loadProblemSet(store, EVAL_PROBLEMS_KEY)).list;
  const batches: Problem[][] = [];
  for (let start = 0; start < problems.length; start += input.batchSize) {
    batches.push(problems.slice(start, start + input.batchSize));
  }
  const summaries = await Promise.all(
    batches.map((questions, index) =>
      sampleQuestions({
        store,
        key: evalBatchKey(input.evalId, index),
        label: input.evalId,
        model: input.model,
        questions,
        samplesPerQuestion: input.samples,
        firstSampleIndex: 0,
        round: 0,
        countPromptTokens: false,
      }),
    ),
  );
  const byQuestion = new Map<string, SampleRecord[]>();
  for (const summary of summaries) {
    for (const sample of (await readJsonl<SampleRecord>(store, summary.artifact)) ?? []) {
      const list = byQuestion.get(sample.questionId) ?? [];
      list.push(sample);
      byQuestion.set(sample.questionId, list);
    }
  }
  let correct = 0;
  let passAtK = 0;
  let majAtK = 0;
  const byLevel: EvalResult['byLevel'] = {};
  const beat = heartbeatEvery(Context.current());
  for (const [index, problem] of problems.entries()) {
    await beat({ questionsGraded: index });
    const samples = (byQuestion.get(problem.id) ?? []).sort((a, b) => a.sampleIndex - b.sampleIndex);
    const verdicts = samples.map((s) =>
      gradeCompletion(s.text, problem.gold, input.format, { finishReason: s.finishReason }),
    );
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
  const n = problems.length;
  const result: EvalResult = {
    evalId: input.evalId,
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
    byLevel,
    ledger: summaries.reduce((sum, s) => addLedgers(sum, s.ledger), EMPTY_LEDGER),
    verifierVersion: VERIFIER_VERSION,
  };
  await writeJson(store, resultKey, result);
  return result;
}

/** maj@k: the most frequent extracted answer (ties: the earliest) is correct. */
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
