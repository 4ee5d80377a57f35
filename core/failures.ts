// Every failure type an activity throws, in one place. Temporal retries an activity until it succeeds or
// throws a non-retryable failure, so each type below also says whether a retry can help: a deterministic
// problem (bad data, a missing key, a mismatched run directory) fails at once instead of ten times.
// Tests assert on these types (`rootFailureType`), never on message wording. Pure: importable by workflows.
import { ApplicationFailure } from '@temporalio/common';

/**
 * The failure types, by name. `Http<status>` (e.g. `Http401`, `Http429`) is a family of its own: see
 * `httpFailureType`. Cancellation is the SDK's `CancelledFailure`, not listed here.
 */
export const FailureType = {
  /** The run directory holds work done with a different problem set, model, prompt or plan. */
  RunDirMismatch: 'RunDirMismatch',
  /** The environment variable named by `apiKeyEnv` is not set on this worker. */
  MissingApiKey: 'MissingApiKey',
  /** An artifact a stage needs is not in the run directory (its earlier stage did not write it). */
  MissingArtifact: 'MissingArtifact',
  /** The run directory's artifacts disagree (a sample of an unknown question, a sample without a verdict). */
  BadRunData: 'BadRunData',
  /** An artifact key that would leave the run directory. */
  BadArtifactKey: 'BadArtifactKey',
  /** A runDir naming a store this build cannot open (only local directories so far). */
  UnsupportedRunDir: 'UnsupportedRunDir',
  /** The problem set file is invalid (`DatasetError`, named after its class by `ApplicationFailure.fromError`). */
  DatasetError: 'DatasetError',
  /** The plan cannot be made (`PlanError`, e.g. a budget too small for one sample per question). */
  PlanError: 'PlanError',
  /** Test questions also appear among the training problems. */
  TestSetLeak: 'TestSetLeak',
  /** The endpoint answered without any choice. */
  EmptyChoices: 'EmptyChoices',
  /** The endpoint did not answer within `requestTimeoutSeconds`. */
  Timeout: 'Timeout',
  /** The endpoint could not be reached, or dropped the connection. */
  ConnectionError: 'ConnectionError',
  /** The endpoint's answer could not be read (bad JSON, no choices array). */
  MalformedResponse: 'MalformedResponse',
  /** A fine-tuning job ended failed or cancelled at the service. */
  FineTuningJobFailed: 'FineTuningJobFailed',
  /**
   * HTTP 200 whose body is not a chat completion (an HTML page, an error object): retried a few times
   * (`notAChatCompletion`), then non-retryable, since a misconfigured baseURL or proxy does not heal itself.
   */
  NotAChatCompletion: 'NotAChatCompletion',
  /**
   * An artifact that does not prove itself: unreadable JSON, or a batch file whose checksum or line count
   * differs from its meta.json. The message names the file (and line); a retry reads the same bytes.
   */
  CorruptArtifact: 'CorruptArtifact',
  /**
   * A stage's own partial output changed under it (an abandoned attempt still running beside its retry):
   * retryable, the next attempt starts clean.
   */
  StageInterrupted: 'StageInterrupted',
  /** The run directory belongs to another experiment (its owner.json names a different id). */
  RunDirOwned: 'RunDirOwned',
  /**
   * A paid response (or a finished artifact) could not be saved to the run directory: no further request of
   * the batch is sent, since a retry would pay for responses it cannot keep.
   */
  SaveFailed: 'SaveFailed',
  /**
   * A workflow's input breaks a rule `validateConfig` enforces (e.g. a student setup without a student
   * model): the workflow was started with a config that skipped validation; a retry sees the same input.
   */
  InvalidConfig: 'InvalidConfig',
} as const;

export type HttpFailureType = `Http${number}`;
export type FailureTypeName = (typeof FailureType)[keyof typeof FailureType];

/** Types no retry can fix. The rest (endpoint hiccups) are retried under the activity's retry policy. */
export const NON_RETRYABLE_TYPES: ReadonlySet<FailureTypeName> = new Set<FailureTypeName>([
  FailureType.RunDirMismatch,
  FailureType.MissingApiKey,
  FailureType.MissingArtifact,
  FailureType.BadRunData,
  FailureType.BadArtifactKey,
  FailureType.UnsupportedRunDir,
  FailureType.DatasetError,
  FailureType.PlanError,
  FailureType.TestSetLeak,
  FailureType.FineTuningJobFailed,
  FailureType.CorruptArtifact,
  FailureType.RunDirOwned,
  FailureType.SaveFailed,
  FailureType.InvalidConfig,
]);

/** A failure of one of the named types; retryable or not as `NON_RETRYABLE_TYPES` says. */
export function failure(type: FailureTypeName, message: string, cause?: Error): ApplicationFailure {
  return ApplicationFailure.create({ type, message, nonRetryable: NON_RETRYABLE_TYPES.has(type), cause });
}

/** Attempts after which a 200 that is not a chat completion stops being retried. */
export const NOT_A_CHAT_COMPLETION_ATTEMPTS = 4;

/**
 * A 200 answer that is not a chat completion (`message` already redacted): retryable until the activity's
 * `attempt` reaches `NOT_A_CHAT_COMPLETION_ATTEMPTS`, then non-retryable.
 */
export function notAChatCompletion(message: string, attempt: number): ApplicationFailure {
  return ApplicationFailure.create({
    type: FailureType.NotAChatCompletion,
    message,
    nonRetryable: attempt >= NOT_A_CHAT_COMPLETION_ATTEMPTS,
  });
}

/** `Http<status>`: the failure type of an HTTP error answer. */
export function httpFailureType(status: number): HttpFailureType {
  return `Http${status}`;
}

/** Statuses worth retrying: timeouts, conflicts, rate limits and server errors. Other 4xx are the caller's. */
export function isRetryableStatus(status: number): boolean {
  return status === 408 || status === 409 || status === 425 || status === 429 || status >= 500;
}

/**
 * An HTTP error answer: retryable for `isRetryableStatus` (after `retryAfterMs` when the server said how
 * long to wait), otherwise non-retryable.
 */
export function httpFailure(status: number, message: string, retryAfterMs?: number): ApplicationFailure {
  const retryable = isRetryableStatus(status);
  return ApplicationFailure.create({
    type: httpFailureType(status),
    message,
    nonRetryable: !retryable,
    nextRetryDelay: retryable ? retryAfterMs : undefined,
  });
}

/**
 * The type of the innermost `ApplicationFailure` in an error's `cause` chain (WorkflowFailedError ->
 * ActivityFailure / ChildWorkflowFailure -> ... -> ApplicationFailure), or null when there is none.
 */
export function rootFailureType(error: unknown): string | null {
  let type: string | null = null;
  for (let current: unknown = error; current instanceof Error; current = current.cause) {
    if (current instanceof ApplicationFailure && current.type) type = current.type;
  }
  return type;
}
