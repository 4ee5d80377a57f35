// Task queues per worker role (core/task-queues.ts): the one-queue default, per-role and per-source
// queues, and what `wcse worker --roles` polls.
import { describe, expect, it } from 'vitest';
import { ExperimentConfigSchema } from '../../core/config.js';
import {
  configuredTaskQueue,
  experimentTaskQueues,
  parseRoles,
  queuesForRoles,
  taskQueueFor,
  WORKER_ROLES,
} from '../../core/task-queues.js';

const temporal = (raw: Record<string, unknown>) => ExperimentConfigSchema.shape.temporal.parse(raw);

describe('task queues per role', () => {
  it('keeps every role on the experiment queue by default, and names none for the workflows to set', () => {
    const t = temporal({});
    for (const role of WORKER_ROLES) {
      expect(taskQueueFor(t, role)).toBe('wcse');
      expect(configuredTaskQueue(t, role)).toBeUndefined();
    }
    expect([...experimentTaskQueues(t)]).toEqual([['wcse', [...WORKER_ROLES]]]);
    expect(queuesForRoles(t, WORKER_ROLES)).toEqual([
      { taskQueue: 'wcse', workflows: true, activities: true },
    ]);
  });

  it('routes each role, and sampling per source, to its own queue', () => {
    const t = temporal({
      taskQueue: 'main',
      taskQueues: { sampling: { wc: 'gpu-a', se: 'gpu-b' }, cpu: 'cpu', eval: 'gpu-a' },
    });
    expect(configuredTaskQueue(t, 'sampling', 'wc')).toBe('gpu-a');
    expect(configuredTaskQueue(t, 'sampling', 'se')).toBe('gpu-b');
    expect(configuredTaskQueue(t, 'finetune')).toBeUndefined();
    expect(taskQueueFor(t, 'finetune')).toBe('main');
    expect(Object.fromEntries(experimentTaskQueues(t))).toEqual({
      main: ['workflow', 'finetune'],
      'gpu-a': ['sampling:wc', 'eval'],
      'gpu-b': ['sampling:se'],
      cpu: ['cpu'],
    });
    // Activity-only workers where the workflow role is not asked for; `sampling` means both sources.
    expect(queuesForRoles(t, ['sampling', 'cpu'])).toEqual([
      { taskQueue: 'gpu-a', workflows: false, activities: true },
      { taskQueue: 'gpu-b', workflows: false, activities: true },
      { taskQueue: 'cpu', workflows: false, activities: true },
    ]);
    expect(queuesForRoles(t, ['workflow'])).toEqual([
      { taskQueue: 'main', workflows: true, activities: false },
    ]);
  });

  it('parses --roles and names a bad entry', () => {
    expect(parseRoles(undefined)).toEqual([...WORKER_ROLES]);
    expect(parseRoles('sampling:wc, cpu')).toEqual(['sampling:wc', 'cpu']);
    expect(parseRoles('sampling,gpu')).toMatch(/--roles: "gpu" is not a role; roles are workflow, sampling/);
  });

  it('refuses an unknown role in the config, naming the field', () => {
    const result = ExperimentConfigSchema.shape.temporal.safeParse({ taskQueues: { gpu: 'x' } });
    expect(result.success).toBe(false);
    expect(JSON.stringify(result.error?.issues)).toContain('gpu');
  });
});
