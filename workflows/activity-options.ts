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
export function runDirActivityOptions(heartbeatTimeoutSeconds: number): ActivityOptions {
  return {
    startToCloseTimeout: '1 hour',
    heartbeatTimeout: heartbeat(heartbeatTimeoutSeconds),
    retry: retryPolicy({ maximumInterval: '1 minute', maximumAttempts: 10 }),
  };
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
