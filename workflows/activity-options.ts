// Activity options shared by the workflows: one retry policy shape and the option sets for the kinds of
// work activities do. Every heartbeating activity gets the run's heartbeat timeout from the config.
import type { Duration } from '@temporalio/common';
import { ActivityCancellationType, type ActivityOptions, type RetryPolicy } from '@temporalio/workflow';
import type { FinetuneConfig } from '../core/config.js';

/** Exponential backoff (doubling) from `initialInterval` up to `maximumInterval`. */
export function retryPolicy(options: {
  maximumAttempts: number;
  maximumInterval: Duration;
  initialInterval?: Duration;
}): RetryPolicy {
  return {
    initialInterval: options.initialInterval ?? '1 second',
    backoffCoefficient: 2,
    maximumInterval: options.maximumInterval,
    maximumAttempts: options.maximumAttempts,
  };
}

function heartbeat(seconds: number): Duration {
  return `${seconds} seconds`;
}

/**
 * Work on the run directory only (prepare, verify, analyse, datasets, report): a fault that survives a
 * few quick retries is not transient.
 */
export function runDirActivityOptions(
  heartbeatTimeoutSeconds: number,
  startToCloseTimeout: Duration = '1 hour',
): ActivityOptions {
  return {
    startToCloseTimeout,
    heartbeatTimeout: heartbeat(heartbeatTimeoutSeconds),
    retry: retryPolicy({ maximumInterval: '1 minute', maximumAttempts: 10 }),
  };
}

/**
 * How long one attempt of a stage over a run's samples (verify, analyse, datasets) may take: the configured
 * `temporal.stageTimeoutMinutes`, else 1 hour plus 1 hour per million samples (they stream at well over
 * 10k samples/s per core, so this leaves ample slack while still ending an attempt that hangs).
 */
export function runDirStageTimeout(samples: number, configuredMinutes?: number): Duration {
  const minutes = configuredMinutes ?? 60 + Math.ceil((60 * samples) / 1_000_000);
  return `${minutes} minutes`;
}

/**
 * Requests to a model endpoint (sampling, judging, evaluation): retries long enough to ride out rate
 * limits and short outages. `startToCloseTimeout` bounds one attempt of the whole activity.
 */
export function endpointActivityOptions(
  heartbeatTimeoutSeconds: number,
  startToCloseTimeout: Duration,
): ActivityOptions {
  return {
    startToCloseTimeout,
    heartbeatTimeout: heartbeat(heartbeatTimeoutSeconds),
    retry: retryPolicy({ maximumInterval: '5 minutes', maximumAttempts: 20 }),
  };
}

/**
 * One fine-tuning job, polled until it ends. On cancellation the workflow waits until the activity has
 * cancelled the job at the service, so a cancelled run leaves no job running.
 */
export function trainingActivityOptions(
  heartbeatTimeoutSeconds: number,
  finetune: Pick<FinetuneConfig, 'maxJobHours' | 'pollIntervalSeconds'>,
): ActivityOptions {
  return {
    startToCloseTimeout: `${finetune.maxJobHours} hours`,
    // A poll must fit between heartbeats.
    heartbeatTimeout: heartbeat(Math.max(heartbeatTimeoutSeconds, 3 * finetune.pollIntervalSeconds)),
    cancellationType: ActivityCancellationType.WAIT_CANCELLATION_COMPLETED,
    retry: retryPolicy({ initialInterval: '5 seconds', maximumInterval: '5 minutes', maximumAttempts: 20 }),
  };
}

/**
 * `options` on `taskQueue` (a role's queue from core/task-queues.ts); without one, the activities run on
 * the queue of the workflow that schedules them, as before task queues per role existed.
 */
export function onTaskQueue(options: ActivityOptions, taskQueue: string | undefined): ActivityOptions {
  return taskQueue === undefined ? options : { ...options, taskQueue };
}
