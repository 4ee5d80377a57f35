// Worker roles and their task queues. Each role's activities go to the queue the config names for it
// (`temporal.taskQueues`), or to the experiment's own queue (`temporal.taskQueue`) when it names none, so
// the embedded path keeps everything on one queue. Pure: workflows import it to route activities.
import type { ExperimentConfig, Source } from './config.js';

/**
 * - `workflow`: the workflow tasks of the experiment and its children (always `temporal.taskQueue`).
 * - `sampling`: sampling requests (`sampleBatch`), optionally one queue per source (`sampling:wc`).
 * - `cpu`: work on the run directory: prepare, verify, analyse, datasets, report.
 * - `finetune`: fine-tuning jobs (started and polled until they end).
 * - `eval`: requests that grade or evaluate: the judge and the evaluation of base and finetuned models.
 */
export const WORKER_ROLES = ['workflow', 'sampling', 'cpu', 'finetune', 'eval'] as const;
export type WorkerRole = (typeof WORKER_ROLES)[number];
/** A role as `wcse worker --roles` takes it: a role, or `sampling:wc` / `sampling:se`. */
export type RoleSpec = WorkerRole | `sampling:${Source}`;

export type TemporalConfig = ExperimentConfig['temporal'];

/**
 * The queue the config names for `role` (for `source`, where sampling has one queue per source), or
 * undefined where it names none: those activities run on the queue of the workflow that schedules them.
 */
export function configuredTaskQueue(
  temporal: TemporalConfig,
  role: WorkerRole,
  source?: Source,
): string | undefined {
  const queues = temporal.taskQueues;
  if (role === 'workflow' || !queues) return undefined;
  if (role === 'sampling') {
    const sampling = queues.sampling;
    if (sampling === undefined || typeof sampling === 'string') return sampling;
    return source ? sampling[source] : undefined;
  }
  return queues[role];
}

/** The queue the activities of `role` run on in an experiment started on `temporal.taskQueue`. */
export function taskQueueFor(temporal: TemporalConfig, role: WorkerRole, source?: Source): string {
  return configuredTaskQueue(temporal, role, source) ?? temporal.taskQueue;
}

/** Every task queue of an experiment, with the roles that use it (one queue may serve several roles). */
export function experimentTaskQueues(temporal: TemporalConfig): Map<string, RoleSpec[]> {
  const queues = new Map<string, RoleSpec[]>();
  for (const spec of allRoleSpecs(temporal)) {
    const queue = queueOfSpec(temporal, spec);
    queues.set(queue, [...(queues.get(queue) ?? []), spec]);
  }
  return queues;
}

function allRoleSpecs(temporal: TemporalConfig): RoleSpec[] {
  const perSource = typeof temporal.taskQueues?.sampling === 'object';
  return WORKER_ROLES.flatMap((role): RoleSpec[] =>
    role === 'sampling' && perSource ? ['sampling:wc', 'sampling:se'] : [role],
  );
}

function queueOfSpec(temporal: TemporalConfig, spec: RoleSpec): string {
  if (spec === 'sampling:wc' || spec === 'sampling:se') {
    return taskQueueFor(temporal, 'sampling', spec.slice('sampling:'.length) as Source);
  }
  return taskQueueFor(temporal, spec);
}

/**
 * Parses `--roles` ("sampling,cpu", "sampling:wc"): the roles, or an error naming the bad entry. No
 * argument means every role.
 */
export function parseRoles(text: string | undefined): RoleSpec[] | string {
  if (text === undefined) return [...WORKER_ROLES];
  const specs: RoleSpec[] = [];
  for (const raw of text.split(',')) {
    const entry = raw.trim();
    const ok =
      (WORKER_ROLES as readonly string[]).includes(entry) ||
      entry === 'sampling:wc' ||
      entry === 'sampling:se';
    if (!ok) {
      return `--roles: "${entry}" is not a role; roles are ${WORKER_ROLES.join(', ')} (and sampling:wc, sampling:se)`;
    }
    specs.push(entry as RoleSpec);
  }
  return specs.length ? specs : `--roles: no role given; roles are ${WORKER_ROLES.join(', ')}`;
}

/**
 * The queues a worker with `roles` polls, each with whether it runs workflow tasks there: a queue is
 * polled for activities when any of the roles uses it (a worker polls every activity on a queue it polls,
 * so roles are kept apart only where their queues differ).
 */
export function queuesForRoles(
  temporal: TemporalConfig,
  roles: readonly RoleSpec[],
): { taskQueue: string; workflows: boolean; activities: boolean }[] {
  const byQueue = new Map<string, { workflows: boolean; activities: boolean }>();
  const specs = roles.flatMap((spec): RoleSpec[] =>
    spec === 'sampling' && typeof temporal.taskQueues?.sampling === 'object'
      ? ['sampling:wc', 'sampling:se']
      : [spec],
  );
  for (const spec of specs) {
    const queue = queueOfSpec(temporal, spec);
    const entry = byQueue.get(queue) ?? { workflows: false, activities: false };
    if (spec === 'workflow') entry.workflows = true;
    else entry.activities = true;
    byQueue.set(queue, entry);
  }
  return [...byQueue].map(([taskQueue, entry]) => ({ taskQueue, ...entry }));
}
