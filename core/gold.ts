// The `gold` data source (the paper's GT baseline): one human-written solution per training question, from
// the problem file, turned into finetuning examples by the same rules as sampled data (core/dataset.ts).
// Pure: the prepare stage records the solutions, the gold dataset activity reads them back.
import { DATA_SOURCES, type DataSource, type Source } from './config.js';
import type { CorrectSolution } from './dataset.js';
import { failure, FailureType } from './failures.js';
import type { DatasetManifest, Problem } from './records.js';

/** One training question's human-written solution, as recorded in GOLD_SOLUTIONS_KEY. */
export interface GoldSolution {
  questionId: string;
  solution: string;
}

/** A training problem as read from its file: its line and its solution (null when missing or empty). */
export interface GoldCandidate {
  problem: Problem;
  line: number | null;
  solution: string | null;
}

/**
 * The gold solutions of the training problems, in their order, or the problems (one per missing solution,
 * naming its line and the field) that make the gold source impossible.
 */
export function collectGoldSolutions(
  candidates: GoldCandidate[],
  solutionField: string,
): { solutions: GoldSolution[]; problems: string[] } {
  const solutions: GoldSolution[] = [];
  const problems: string[] = [];
  for (const { problem, line, solution } of candidates) {
    if (solution === null || solution.trim() === '') {
      const where = line !== null ? `line ${line}` : `question ${problem.id}`;
      problems.push(
        `${where}: field "${solutionField}" (the human-written solution datasets.gold trains on) is missing or empty`,
      );
      continue;
    }
    solutions.push({ questionId: problem.id, solution });
  }
  return { solutions, problems };
}

/**
 * The gold solutions as the dataset rules see sampled data: one correct solution (sample 0) per question,
 * with its question text. A solution of a question not in the problem set is refused by the caller.
 */
export function goldAsCorrectSolutions(
  solutions: GoldSolution[],
  problems: ReadonlyMap<string, Pick<Problem, 'question'>>,
): { solutions: CorrectSolution[]; unknown: string[] } {
  const unknown: string[] = [];
  const correct: CorrectSolution[] = [];
  for (const { questionId, solution } of solutions) {
    const problem = problems.get(questionId);
    if (!problem) {
      unknown.push(questionId);
      continue;
    }
    correct.push({ questionId, question: problem.question, sampleIndex: 0, text: solution });
  }
  return { solutions: correct, unknown };
}

/** The finetuning datasets of a run: WC and SE always, gold with `datasets.gold`. */
export type RunDatasets = Record<Source, DatasetManifest> & { gold?: DatasetManifest };

/** The data sources a run finetunes on, in report order: those of `datasets` that exist. */
export function dataSourcesOf(datasets: RunDatasets): DataSource[] {
  return DATA_SOURCES.filter((source) => datasets[source] !== undefined);
}

/** A data source's dataset manifest; a source without one is never trained on (a BadRunData failure). */
export function datasetOf(datasets: RunDatasets, data: DataSource): DatasetManifest {
  const manifest = datasets[data];
  if (!manifest)
    throw failure(FailureType.BadRunData, `no ${data} dataset was built: nothing to finetune on`);
  return manifest;
}
