// Finetuning data from verified samples: per question, every correct solution (the paper's datasets), and
// optionally de-duplicated, capped per question, and split into train/validation by question so no
// question leaks across the split. Defaults keep everything: no de-duplication, no cap, no holdout
// (checkpoint selection uses its own held-out question split, not this one).
import { unitHash } from './hash.js';
import { solutionIdentity } from './metrics.js';
import { buildMessages } from './prompt.js';

export interface CorrectSolution {
  questionId: string;
  question: string;
  sampleIndex: number;
  text: string;
}

export interface ChatExample {
  messages: Array<{ role: 'system' | 'user' | 'assistant'; content: string }>;
}

export interface DatasetSelection {
  train: CorrectSolution[];
  validation: CorrectSolution[];
  /** Solutions that repeat an earlier one of their question (dropped only with `dedupe`). */
  duplicates: number;
  duplicatesDropped: number;
  cappedDropped: number;
}

export interface DatasetOptions {
  /** Drop a solution identical (see `solutionIdentity`) to an earlier one of its question; default false. */
  dedupe?: boolean;
  maxPerQuestion?: number;
  validationFraction: number;
  seed: number;
}

/** One question's part of a dataset selection (selectQuestion). */
export interface QuestionSelection {
  kept: CorrectSolution[];
  validation: boolean;
  duplicates: number;
  duplicatesDropped: number;
  cappedDropped: number;
}

/**
 * One question's correct solutions, given in sample order: sorted by sample index (stably); with `dedupe`,
 * the first occurrence of each unique solution; then the first `maxPerQuestion` of those; the question goes
 * to validation by a stable hash of (seed, question id). Streaming stages call it per question.
 */
export function selectQuestion(
  questionId: string,
  solutions: CorrectSolution[],
  options: DatasetOptions,
): QuestionSelection {
  const list = [...solutions].sort((a, b) => a.sampleIndex - b.sampleIndex);
  const seen = new Set<string>();
  const unique: CorrectSolution[] = [];
  let duplicates = 0;
  let duplicatesDropped = 0;
  for (const solution of list) {
    const identity = solutionIdentity(solution.text);
    const repeated = seen.has(identity);
    seen.add(identity);
    if (repeated) duplicates++;
    if (repeated && options.dedupe) {
      duplicatesDropped++;
      continue;
    }
    unique.push(solution);
  }
  const kept = options.maxPerQuestion ? unique.slice(0, options.maxPerQuestion) : unique;
  return {
    kept,
    validation: inValidation(questionId, options),
    duplicates,
    duplicatesDropped,
    cappedDropped: unique.length - kept.length,
  };
}

/** Question ids in the order datasets list them (code-unit order). */
export function compareQuestionIds(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/**
 * Per question (in question-id order; see selectQuestion): the kept solutions, split into train and
 * validation by question. For data in memory; the datasets stage streams per question instead.
 */
export function selectDataset(solutions: CorrectSolution[], options: DatasetOptions): DatasetSelection {
  const byQuestion = new Map<string, CorrectSolution[]>();
  for (const solution of solutions) {
    const list = byQuestion.get(solution.questionId) ?? [];
    list.push(solution);
    byQuestion.set(solution.questionId, list);
  }
  const selection: DatasetSelection = {
    train: [],
    validation: [],
    duplicates: 0,
    duplicatesDropped: 0,
    cappedDropped: 0,
  };
  for (const questionId of [...byQuestion.keys()].sort(compareQuestionIds)) {
    const chosen = selectQuestion(questionId, byQuestion.get(questionId)!, options);
    selection.duplicates += chosen.duplicates;
    selection.duplicatesDropped += chosen.duplicatesDropped;
    selection.cappedDropped += chosen.cappedDropped;
    const bucket = chosen.validation ? selection.validation : selection.train;
    for (const solution of chosen.kept) bucket.push(solution);
  }
  return selection;
}

/** Whether a question goes to the validation split: a stable hash of (seed, question id) under the fraction. */
export function inValidation(
  questionId: string,
  options: { validationFraction: number; seed: number },
): boolean {
  if (options.validationFraction <= 0) return false;
  return unitHash(`${options.seed}\u0000${questionId}`) < options.validationFraction;
}

/** A chat finetuning example in the same prompt format the finetuned model is evaluated with. */
export function toChatExample(
  solution: CorrectSolution,
  prompt: { system?: string; user: string },
): ChatExample {
  return {
    messages: [
      ...buildMessages({ ...prompt, fewShot: [] }, solution.question),
      { role: 'assistant', content: solution.text.trim() },
    ],
  };
}
