// Reading the run's shared inputs from the store, cached per process: many batch activities of one run
// need the same problem set.
import { failure, FailureType } from '../core/failures.js';
import { PROBLEMS_KEY } from '../core/layout.js';
import type { Problem } from '../core/records.js';
import { readJsonl, type ArtifactStore } from './store.js';

export interface ProblemSet {
  /** In the order of problems.jsonl: batches address questions by position. */
  list: Problem[];
  byId: Map<string, Problem>;
}

const cache = new Map<string, Promise<ProblemSet>>();

export async function problemsById(store: ArtifactStore): Promise<Map<string, Problem>> {
  return (await loadProblemSet(store)).byId;
}

export function loadProblemSet(store: ArtifactStore, key = PROBLEMS_KEY): Promise<ProblemSet> {
  const cacheKey = `${store.location}\u0000${key}`;
  let entry = cache.get(cacheKey);
  if (!entry) {
    entry = (async () => {
      const problems = await readJsonl<Problem>(store, key);
      if (!problems) {
        throw failure(
          FailureType.MissingArtifact,
          `${store.location}: ${key} is missing; the experiment's prepare stage writes it`,
        );
      }
      return { list: problems, byId: new Map(problems.map((problem) => [problem.id, problem])) };
    })();
    entry.catch(() => cache.delete(cacheKey));
    cache.set(cacheKey, entry);
  }
  return entry;
}

/** Forget cached inputs of a run (its problem set was rewritten). */
export function forgetRun(location: string): void {
  for (const key of [...cache.keys()]) if (key.startsWith(`${location}\u0000`)) cache.delete(key);
}
