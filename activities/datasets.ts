// Finetuning datasets: per source, the verified-correct solutions in OpenAI chat fine-tuning JSONL.
import { Context } from '@temporalio/activity';
import type { DatasetManifest } from '../core/records.js';
import type { DataSource, Source } from '../core/config.js';
import {
  compareQuestionIds,
  inValidation,
  selectQuestion,
  toChatExample,
  type CorrectSolution,
} from '../core/dataset.js';
import { datasetKey, datasetManifestKey, verdictsMetaKey } from '../core/layout.js';
import { heartbeatEvery, resumedCheckpoint } from './heartbeat.js';
import { QuestionBuckets } from './question-buckets.js';
import { problemsById } from './run-data.js';
import { openStore, readJson, writeJson, type ArtifactStore } from './store.js';
import { verifiedSamples } from './verify.js';

export interface BuildDatasetInput {
  runDir: string;
  source: Source;
  /** Drop repeated solutions of a question (default false: every correct solution, as in the paper). */
  dedupe?: boolean;
  maxPerQuestion?: number;
  validationFraction: number;
  seed: number;
  /** Prompt format of the examples: the evaluation prompt, so training matches testing. */
  prompt: { system?: string; user: string };
}

/** Correct solutions (with their text) per datasets scratch bucket: bounds the stage's memory. */
const DATASET_ROWS_PER_BUCKET = 20_000;

type SplitDigest = DatasetManifest['train'];

/** How far a dataset build got (its heartbeat details): a retried attempt keeps the train split written. */
interface DatasetCheckpoint {
  kind: 'datasets';
  train: SplitDigest;
  stats: Pick<DatasetManifest, 'correctSamples' | 'duplicates' | 'duplicatesDropped' | 'cappedDropped'>;
}

export async function buildDataset(input: BuildDatasetInput): Promise<DatasetManifest> {
  const store = openStore(input.runDir);
  const problems = await problemsById(store);
  const meta = await readJson<{ correct?: number }>(store, verdictsMetaKey(input.source));
  async function* correct(): AsyncIterable<CorrectSolution> {
    for await (const s of verifiedSamples(store, input.source)) {
      const problem = s.correct ? problems.get(s.questionId) : undefined;
      if (problem) {
        yield {
          questionId: s.questionId,
          question: problem.question,
          sampleIndex: s.sampleIndex,
          text: s.text,
        };
      }
    }
  }
  return writeDataset(store, input.source, correct(), meta?.correct ?? 0, input);
}

/**
 * Writes a data source's train and validation files and manifest from its correct solutions, streamed in
 * any order (`expectedRows`: about how many, to size the scratch buckets): grouped by question in scratch
 * buckets, then per question in question-id order selectQuestion, each split streamed to its file.
 * Memory: the question ids plus one bucket, whatever the number of solutions.
 */
export async function writeDataset(
  store: ArtifactStore,
  source: DataSource,
  solutions: AsyncIterable<CorrectSolution>,
  expectedRows: number,
  options: Omit<BuildDatasetInput, 'runDir' | 'source'>,
): Promise<DatasetManifest> {
  const context = Context.current();
  const beat = heartbeatEvery(context);
  const problems = await problemsById(store);
  const resumed = resumedCheckpoint<DatasetCheckpoint>(
    context,
    (d) => (d as DatasetCheckpoint).kind === 'datasets',
  );
  const ids = [...problems.keys()].sort(compareQuestionIds);
  const buckets = await QuestionBuckets.open<CorrectSolution>(ids, expectedRows, DATASET_ROWS_PER_BUCKET);
  try {
    let correctSamples = 0;
    for await (const solution of solutions) {
      correctSamples++;
      await buckets.add(solution.questionId, solution);
      await beat(resumed ?? { kind: 'datasets', stage: 'grouping', correct: correctSamples });
    }
    const stats = { correctSamples, duplicates: 0, duplicatesDropped: 0, cappedDropped: 0 };
    const split = async (name: 'train' | 'validation', details: unknown): Promise<SplitDigest> => {
      let examples = 0;
      let questions = 0;
      async function* lines(): AsyncIterable<string> {
        for await (const bucket of buckets.buckets()) {
          for (const [questionId, list] of bucket) {
            // The validation pass selects only its questions; the train pass selects all (for the counts).
            if (!list.length || (name === 'validation' && !inValidation(questionId, options))) continue;
            const chosen = selectQuestion(questionId, list, options);
            if (name === 'train') {
              stats.duplicates += chosen.duplicates;
              stats.duplicatesDropped += chosen.duplicatesDropped;
              stats.cappedDropped += chosen.cappedDropped;
            }
            if (chosen.validation !== (name === 'validation') || !chosen.kept.length) continue;
            questions++;
            for (const row of chosen.kept) {
              examples++;
              yield JSON.stringify(toChatExample(row, options.prompt));
            }
            await beat(details);
          }
        }
      }
      const key = datasetKey(source, name);
      const digest = await store.writeLines(key, lines());
      return { key, examples, questions, sha256: digest.sha256 };
    };
    let train: SplitDigest;
    let trainStats: DatasetCheckpoint['stats'];
    if (
      resumed &&
      resumed.stats.correctSamples === correctSamples &&
      (await store.exists(resumed.train.key))
    ) {
      // A retried attempt: the train split and its counts are already written.
      train = resumed.train;
      trainStats = resumed.stats;
    } else {
      train = await split('train', { kind: 'datasets', stage: 'train' });
      trainStats = stats;
    }
    const checkpoint: DatasetCheckpoint = { kind: 'datasets', train, stats: trainStats };
    context.heartbeat(checkpoint);
    const validation = await split('validation', checkpoint);
    const manifest: DatasetManifest = {
      source,
      train,
      validation,
      correctSamples: trainStats.correctSamples,
      dedupe: options.dedupe ?? false,
      duplicates: trainStats.duplicates,
      duplicatesDropped: trainStats.duplicatesDropped,
      cappedDropped: trainStats.cappedDropped,
      maxPerQuestion: options.maxPerQuestion ?? null,
      questionsWithheld: validation.questions,
      validationFraction: options.validationFraction,
    };
    await writeJson(store, datasetManifestKey(source), manifest);
    return manifest;
  } finally {
    await buckets.close();
  }
}
