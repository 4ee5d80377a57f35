// The `gold` data source (the paper's GT baseline): the prepare stage records each training question's
// human-written solution (refusing a problem file that lacks one, by file and line), and the datasets
// stage turns them into finetuning data by the same rules as WC and SE data: one solution per question,
// the same prompt format, de-duplication, cap and validation split (core/dataset.ts).
import { Context } from '@temporalio/activity';
import { goldSourceOf, type ExperimentConfig } from '../core/config.js';
import { selectDataset, toChatExample } from '../core/dataset.js';
import { failure, FailureType } from '../core/failures.js';
import { collectGoldSolutions, goldAsCorrectSolutions, type GoldSolution } from '../core/gold.js';
import { datasetKey, datasetManifestKey, GOLD_SOLUTIONS_KEY } from '../core/layout.js';
import type { DatasetManifest, Problem } from '../core/records.js';
import { heartbeatEvery } from './heartbeat.js';
import { DatasetError, problemOrigin } from './problems.js';
import { problemsById } from './run-data.js';
import { openStore, readJsonl, sha256, toJsonl, writeJson, type ArtifactStore } from './store.js';

/**
 * With `datasets.gold`, the human-written solutions of the training problems (as `readProblemSet` returned
 * them); null without it. A missing solution is a DatasetError naming the problem file, line and field.
 */
export function goldSolutionsOf(config: ExperimentConfig, problems: Problem[]): GoldSolution[] | null {
  if (!goldSourceOf(config)) return null;
  const origins = problems.map((problem) => ({ problem, origin: problemOrigin(problem) }));
  const field = origins.find(({ origin }) => origin?.solutionField)?.origin?.solutionField ?? null;
  if (field === null) {
    throw new DatasetError(config.problems.path, [
      'problems.fields.solution: datasets.gold trains on the human-written solutions; name the field that ' +
        'holds them (gsm8k and math problem sets default to "answer" and "solution")',
    ]);
  }
  const { solutions, problems: missing } = collectGoldSolutions(
    origins.map(({ problem, origin }) => ({
      problem,
      line: origin?.line ?? null,
      solution: origin?.solution ?? null,
    })),
    field,
  );
  if (missing.length) throw new DatasetError(config.problems.path, missing);
  return solutions;
}

/** Records the gold solutions for the datasets stage (the problem file may change after prepare). */
export async function writeGoldSolutions(store: ArtifactStore, solutions: GoldSolution[]): Promise<void> {
  await store.write(GOLD_SOLUTIONS_KEY, toJsonl(solutions));
}

export interface BuildGoldDatasetInput {
  runDir: string;
  dedupe?: boolean;
  maxPerQuestion?: number;
  validationFraction: number;
  seed: number;
  /** Prompt format of the examples: the evaluation prompt, as for WC and SE data. */
  prompt: { system?: string; user: string };
}

/** datasets/gold/: the gold solutions as chat finetuning examples, and their manifest. */
export async function buildGoldDataset(input: BuildGoldDatasetInput): Promise<DatasetManifest> {
  const store = openStore(input.runDir);
  const beat = heartbeatEvery(Context.current());
  const recorded = await readJsonl<GoldSolution>(store, GOLD_SOLUTIONS_KEY);
  if (!recorded) {
    throw failure(
      FailureType.MissingArtifact,
      `${store.location}: ${GOLD_SOLUTIONS_KEY} is missing; the prepare stage writes it when datasets.gold is on`,
    );
  }
  const { solutions, unknown } = goldAsCorrectSolutions(recorded, await problemsById(store));
  if (unknown.length) {
    throw failure(
      FailureType.BadRunData,
      `${store.location}: ${GOLD_SOLUTIONS_KEY} holds ${unknown.length} solution(s) of questions not in the ` +
        `problem set (first: ${unknown[0]})`,
    );
  }
  await beat({ stage: 'loaded', solutions: solutions.length });
  const selection = selectDataset(solutions, input);
  const write = async (name: 'train' | 'validation') => {
    const rows = selection[name];
    const body = toJsonl(rows.map((row) => toChatExample(row, input.prompt)));
    const key = datasetKey('gold', name);
    await store.write(key, body);
    return {
      key,
      examples: rows.length,
      questions: new Set(rows.map((r) => r.questionId)).size,
      sha256: sha256(body),
    };
  };
  const manifest: DatasetManifest = {
    source: 'gold',
    train: await write('train'),
    validation: await write('validation'),
    correctSamples: solutions.length,
    dedupe: input.dedupe ?? false,
    duplicates: selection.duplicates,
    duplicatesDropped: selection.duplicatesDropped,
    cappedDropped: selection.cappedDropped,
    maxPerQuestion: input.maxPerQuestion ?? null,
    questionsWithheld: new Set(selection.validation.map((row) => row.questionId)).size,
    validationFraction: input.validationFraction,
  };
  await writeJson(store, datasetManifestKey('gold'), manifest);
  return manifest;
}
