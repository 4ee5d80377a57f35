// The inputs of a study's plan (core/study-plan.ts): each pool's problem set with per-question prompt-token
// estimates, the test sets' sizes and the validation questions of model selection. Read, never written:
// shared by `wcse plan` and, later, the study workflow's first activity.
import { testSetsOf } from '../core/config.js';
import { buildMessages, promptTokensEstimate, promptTokensUpperBound } from '../core/prompt.js';
import type { StudyConfig } from '../core/study.js';
import type { PlanQuestion, StudyPlanInputs } from '../core/study-plan.js';
import { readHeldOutProblems, readProblemSet } from './problems.js';

export async function studyPlanInputs(study: StudyConfig): Promise<StudyPlanInputs> {
  const validationFile = study.finetune?.validation
    ? (await readProblemSet(study.finetune.validation)).length
    : null;
  const pools: StudyPlanInputs['pools'] = {};
  for (const [name, pool] of Object.entries(study.pools)) {
    const problems = await readProblemSet(pool.problems);
    const prompts = { wc: study.models[pool.wc].prompt, se: study.models[pool.se].prompt };
    const questions = problems.map((problem): PlanQuestion => {
      const count = (source: 'wc' | 'se') => {
        const messages = buildMessages(prompts[source], problem.question);
        return { expected: promptTokensEstimate(messages), upperBound: promptTokensUpperBound(messages) };
      };
      return { id: problem.id, promptTokens: { wc: count('wc'), se: count('se') } };
    });
    pools[name] = {
      questions,
      validationQuestions: validationFile ?? (await readHeldOutProblems(pool.problems)).length,
    };
  }
  const testSets: Record<string, number> = {};
  if (study.evaluation) {
    for (const { name, problems } of testSetsOf(study.evaluation)) {
      testSets[name] = (await readProblemSet(problems)).length;
    }
  }
  return { pools, testSets };
}
