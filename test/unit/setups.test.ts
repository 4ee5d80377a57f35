// The setup rules the experiment workflow applies: which setup evaluates a shared base model, and how the
// others receive that evaluation.
import { describe, expect, it } from 'vitest';
import type { EvalResult, Setup } from '../../core/results.js';
import { rootFailureType } from '../../core/failures.js';
import { baseEvaluators, safeId, trainedModelOf, withSharedBase, type SetupRuns } from '../../core/setups.js';
import { evalResult } from '../support/eval-result.js';

const at = (baseURL: string, model: string) => ({ baseURL, model });

function evalOf(setup: Setup, model: string): EvalResult {
  return evalResult({ evalId: `base-${model}`, model, setup });
}

function runs(setup: Setup, base: EvalResult | null): SetupRuns {
  return { setup, trainedRole: setup, baseModel: 'm', base, runs: {}, skipped: {} };
}

describe('base evaluation dedup', () => {
  it('gives every setup its own base evaluation when all models differ', () => {
    const owners = baseEvaluators([
      { setup: 'student', model: at('http://a/v1', 's') },
      { setup: 'wc', model: at('http://a/v1', 'w') },
      { setup: 'se', model: at('http://a/v1', 'e') },
    ]);
    expect([...owners]).toEqual([
      ['student', 'student'],
      ['wc', 'wc'],
      ['se', 'se'],
    ]);
  });

  it('lets the first setup on a shared endpoint and model evaluate it for the others', () => {
    const owners = baseEvaluators([
      { setup: 'student', model: at('http://a/v1', 'w') },
      { setup: 'wc', model: at('http://a/v1', 'w') },
      { setup: 'se', model: at('http://a/v1', 'e') },
    ]);
    expect(owners.get('student')).toBe('student');
    expect(owners.get('wc')).toBe('student');
    expect(owners.get('se')).toBe('se');
  });

  it('treats the same model id on another endpoint as another model', () => {
    const owners = baseEvaluators([
      { setup: 'wc', model: at('http://a/v1', 'w') },
      { setup: 'se', model: at('http://b/v1', 'w') },
    ]);
    expect(owners.get('se')).toBe('se');
  });

  it('fills in shared base evaluations from their owner and fails loudly when one is missing', () => {
    const owners = baseEvaluators([
      { setup: 'student', model: at('http://a/v1', 'w') },
      { setup: 'wc', model: at('http://a/v1', 'w') },
    ]);
    const studentBase = evalOf('student', 'w');
    const merged = withSharedBase([runs('student', studentBase), runs('wc', null)], owners);
    expect(merged.map((r) => [r.setup, r.base])).toEqual([
      ['student', studentBase],
      ['wc', studentBase],
    ]);
    expect(() => withSharedBase([runs('student', null), runs('wc', null)], owners)).toThrow(
      /setup student: no base evaluation/,
    );
    // Workflow code throws named failures (core/failures.ts), not plain errors.
    const missingBase = catchError(() => withSharedBase([runs('student', null), runs('wc', null)], owners));
    expect(rootFailureType(missingBase)).toBe('BadRunData');
  });

  it('refuses a student setup without a student model with a named, non-retryable failure', () => {
    const models = { wc: { model: 'w' }, se: { model: 's' } } as unknown as Parameters<
      typeof trainedModelOf
    >[0];
    expect(trainedModelOf(models, 'wc')).toBe(models.wc);
    const error = catchError(() => trainedModelOf(models, 'student'));
    expect(rootFailureType(error)).toBe('InvalidConfig');
    expect((error as { nonRetryable?: boolean }).nonRetryable).toBe(true);
    expect(String(error)).toMatch(/models\.student/);
  });

  it('turns a model id into one path segment', () => {
    expect(safeId('org/model:v1 beta')).toBe('org_model_v1_beta');
    expect(safeId('plain-model_1.5')).toBe('plain-model_1.5');
  });
});

function catchError(run: () => unknown): unknown {
  try {
    run();
  } catch (error) {
    return error;
  }
  throw new Error('expected a throw');
}
