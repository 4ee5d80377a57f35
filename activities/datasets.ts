// Finetuning datasets: per source, the verified-correct solutions in OpenAI chat fine-tuning JSONL.
import { Context } from '@temporalio/activity';
import type { DatasetManifest } from '../core/records.js';
import type { Source } from '../core/config.js';
import { selectDataset, toChatExample } from '../core/dataset.js';
import { datasetKey, datasetManifestKey } from '../core/layout.js';
import { heartbeatEvery } from './heartbeat.js';
import { problemsById } from './run-data.js';
import { openStore, sha256, toJsonl, writeJson } from './store.js';
import { loadVerifiedSamples } from './verify.js';

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

export async function buildDataset(input: BuildDatasetInput): Promise<DatasetManifest> {
  const store = openStore(input.runDir);
  const beat = heartbeatEvery(Context.current());
  const problems = await problemsById(store);
  const correct = (await loadVerifiedSamples(store, input.source)).filter((s) => s.correct);
  await beat({ stage: 'loaded', correct: correct.length });
  const selection = selectDataset(
    correct.map((s) => ({
      questionId: s.questionId,
      question: problems.get(s.questionId)!.question,
      sampleIndex: s.sampleIndex,
      text: s.text,
    })),
    input,
  );
  await beat({ stage: 'selected' });
  const write = async (name: 'train' | 'validation') => {
    const rows = selection[name];
    const body = toJsonl(rows.map((row) => toChatExample(row, input.prompt)));
    const key = datasetKey(input.source, name);
    await store.write(key, body);
    return {
      key,
      examples: rows.length,
      questions: new Set(rows.map((r) => r.questionId)).size,
      sha256: sha256(body),
    };
  };
  const manifest: DatasetManifest = {
    source: input.source,
    train: await write('train'),
    validation: await write('validation'),
    correctSamples: correct.length,
    dedupe: input.dedupe ?? false,
    duplicates: selection.duplicates,
    duplicatesDropped: selection.duplicatesDropped,
    cappedDropped: selection.cappedDropped,
    maxPerQuestion: input.maxPerQuestion ?? null,
    questionsWithheld: new Set(selection.validation.map((row) => row.questionId)).size,
    validationFraction: input.validationFraction,
  };
  await writeJson(store, datasetManifestKey(input.source), manifest);
  return manifest;
}
