// Heartbeats by time, for every long activity: often enough that the heartbeat timeout never fires while
// work goes on, rarely enough to cost nothing. Cancellation reaches an activity only through heartbeats.
import type { Context } from '@temporalio/activity';

/** A third of the heartbeat timeout (60 s when none is set), between 200 ms and 10 s. */
export function heartbeatIntervalMs(context: Context): number {
  const timeout = context.info.heartbeatTimeoutMs ?? 60_000;
  return Math.max(200, Math.min(10_000, timeout / 3));
}

/**
 * Heartbeats on a timer until the returned function is called: for work that waits on other things (an
 * endpoint, its concurrency and rate limits). `details` says how far the work got.
 */
export function heartbeatWhile(context: Context, details: () => unknown): () => void {
  const timer = setInterval(() => context.heartbeat(details()), heartbeatIntervalMs(context));
  return () => clearInterval(timer);
}

/**
 * For loops that compute without waiting: call the returned function every iteration. It costs a clock
 * read; once an interval has passed it heartbeats and yields to the event loop, so that the heartbeat is
 * sent (and a cancellation can arrive) even while the loop keeps the process busy.
 */
export function heartbeatEvery(context: Context): (details?: unknown) => Promise<void> | undefined {
  const interval = heartbeatIntervalMs(context);
  let last = Date.now();
  return (details) => {
    const now = Date.now();
    if (now - last < interval) return undefined;
    last = now;
    context.heartbeat(details);
    return new Promise((resolve) => setImmediate(resolve));
  };
}

/**
 * The checkpoint the previous attempt of this activity last heartbeated (its first details argument), for
 * an activity that resumes instead of restarting; undefined on a first attempt. `valid` rejects details of
 * another shape (a checkpoint written by an older version).
 */
export function resumedCheckpoint<T>(context: Context, valid: (details: unknown) => boolean): T | undefined {
  const details: unknown = context.info.heartbeatDetails;
  return details !== undefined && details !== null && valid(details) ? (details as T) : undefined;
}
