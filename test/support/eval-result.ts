// A complete EvalResult for unit tests: four questions, one correct, an empty ledger; `fields` replace any
// of them.
import type { EvalResult } from '../../core/results.js';

export function evalResult(fields: Partial<EvalResult> = {}): EvalResult {
  return {
    evalId: 'eval',
    model: 'model',
    baseURL: 'http://a/v1',
    kind: 'base',
    setup: 'student',
    data: null,
    n: 4,
    correct: 1,
    accuracy: 0.25,
    ci: { low: 0, high: 1 },
    k: 1,
    passAtK: null,
    majAtK: null,
    byLevel: {},
    ledger: { requests: 0, samples: 0, promptTokens: 0, completionTokens: 0, flops: 0, usd: 0 },
    verifierVersion: 'test',
    ...fields,
  };
}
