// Finetuning data from verified samples: per question, the correct solutions, de-duplicated, optionally
// capped, split into train/validation by question so no question leaks across the split.
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
  duplicatesDropped: number;
  cappedDropped: number;
}

/**
 * Keeps the first occurrence (lowest sample index) of each unique solution per question, then the first
 * `maxPerQuestion` of those; questions go to validation by a stable hash of (seed, question id).
 */
export function selectDataset(
  solutions: CorrectSolution[],
  options: { maxPerQuestion?: number; validationFraction: number; seed: number },
): DatasetSelection {
  const byQuestion = new Map<string, CorrectSolution[]>();
  for (const solution of [...solutions].sort((a, b) => a.sampleIndex - b.sampleIndex)) {
    const list = byQuestion.get(solution.questionId) ?? [];
    list.push(solution);
    byQuestion.set(solution.questionId, list);
  }
  const selection: DatasetSelection = { train: [], validation: [], duplicatesDropped: 0, cappedDropped: 0 };
  for (const [questionId, list] of [...byQuestion].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) {
    const seen = new Set<string>();
    const unique: CorrectSolution[] = [];
    for (const solution of list) {
      const identity = solutionIdentity(solution.text);
      if (seen.has(identity)) {
        selection.duplicatesDropped++;
        continue;
      }
      seen.add(identity);
      unique.push(solution);
    }
    const kept = options.maxPerQuestion ? unique.slice(0, options.maxPerQuestion) : unique;
    selection.cappedDropped += unique.length - kept.length;
    const bucket = inValidation(questionId, options) ? selection.validation : selection.train;
    bucket.push(...kept);
  }
  return selection;
}

function inValidation(questionId: string, options: { validationFraction: number; seed: number }): boolean {
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
