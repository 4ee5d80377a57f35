// The false-positive rate of an evaluated model's test outputs (`evaluation.judgeOutputs`, issue 9 item 6):
// the correct outputs of an evaluation's greedy pass, graded as the evaluation grades them, a seeded sample
// of them stratified by level (the training data's rule, `fprSample`), each rated by the same judge, prompt
// and endpoint path as the training data's FPR (`judgeSolutions`), saved as paid.
import type { ModelConfig } from '../core/config.js';
import { evalBatchKey, evalProblemsKey, outputJudgmentKey, outputsJudgeResultKey } from '../core/layout.js';
import type { EvalResult, OutputsFprResult } from '../core/results.js';
import type { AnswerFormat } from '../core/verify/index.js';
import { failure, FailureType } from '../core/failures.js';
import { fprSample, judgedRate, judgeSolutions, type JudgedSolution } from './analyse.js';
import { gradeTestOutput } from './evaluate.js';
import { loadProblemSet } from './run-data.js';
import { readFinishedBatch } from './sampling.js';
import { openStore, sha256, writeJson } from './store.js';

export interface JudgeOutputsInput {
  runDir: string;
  /** The evaluation whose greedy pass is judged (its result, as `evaluateModel` returned it). */
  evaluation: Pick<EvalResult, 'evalId' | 'testSet' | 'fingerprint' | 'kind' | 'setup' | 'data'>;
  /** `evaluation.batchSize`: how the pass was split into batches. */
  batchSize: number;
  /** The test set's answer format and `verifier.lastNumberFallback`, as the evaluation graded with. */
  format: AnswerFormat;
  lastNumberFallback?: boolean;
  /** models.judge and the analysis judge's prompt: the training data's FPR is judged with the same. */
  judge: ModelConfig;
  prompt: string;
  sampleSize: number;
  seed: number;
}

/** Judges a sample of an evaluation's correct greedy outputs; judgments already saved are not asked again. */
export async function judgeTestOutputs(input: JudgeOutputsInput): Promise<OutputsFprResult> {
  const store = openStore(input.runDir);
  const { evalId, fingerprint: pass, kind, setup, data } = input.evaluation;
  const testSet = input.evaluation.testSet ?? 'test';
  if (!pass) {
    throw failure(
      FailureType.MissingArtifact,
      `evaluation ${evalId}: its result names no greedy pass (written before passes were named); evaluate it again`,
    );
  }
  const problems = await loadProblemSet(store, evalProblemsKey(testSet));
  const correct: JudgedSolution[] = [];
  for (let batch = 0; batch * input.batchSize < problems.list.length; batch++) {
    const key = evalBatchKey(evalId, pass, batch);
    const samples = await readFinishedBatch(store, key);
    if (!samples) {
      throw failure(
        FailureType.MissingArtifact,
        `evaluation ${evalId}: batch ${key} of its greedy pass is not finished; evaluate it again`,
      );
    }
    for (const sample of samples) {
      const problem = problems.byId.get(sample.questionId);
      if (!problem) continue;
      const verdict = gradeTestOutput(sample, problem, input);
      if (verdict.correct) {
        correct.push({
          questionId: sample.questionId,
          sampleIndex: sample.sampleIndex,
          text: sample.text,
          extracted: verdict.extracted,
        });
      }
    }
  }
  // A changed judge (model, endpoint or prompt) judges anew; a larger sample only adds judgments.
  const judgeId = sha256(
    JSON.stringify([input.judge.model, input.judge.baseURL, input.prompt, input.seed]),
  ).slice(0, 8);
  const chosen = fprSample(correct, problems.byId, input.sampleSize, input.seed);
  const judgments = await judgeSolutions(store, problems.byId, chosen, input, (output) =>
    outputJudgmentKey(evalId, pass, judgeId, output.questionId, output.sampleIndex),
  );
  const result: OutputsFprResult = {
    evalId,
    testSet,
    kind,
    setup,
    data,
    pass,
    ...judgedRate(judgments),
    judgeModel: input.judge.model,
    correctOutputs: correct.length,
    sampleSize: input.sampleSize,
    seed: input.seed,
    stratifiedByLevel: correct.some((output) => problems.byId.get(output.questionId)?.level !== undefined),
  };
  await writeJson(store, outputsJudgeResultKey(evalId, pass, judgeId), result);
  return result;
}
