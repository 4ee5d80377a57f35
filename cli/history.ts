// `wcse history <id>`: the workflow histories of an experiment (and its sampling children) as a timeline
// a person can read: stages, activities with attempts and durations, failures with their reasons.
import type { Client } from '@temporalio/client';
import proto from '@temporalio/proto';

// A CommonJS package: its namespaces come from the default export under ESM.
const { temporal } = proto;

type HistoryEvent = proto.temporal.api.history.v1.IHistoryEvent;
const EventType = temporal.api.enums.v1.EventType;

function millis(event: HistoryEvent): number {
  const time = event.eventTime;
  if (!time) return 0;
  return Number(time.seconds ?? 0) * 1000 + Math.floor((time.nanos ?? 0) / 1e6);
}

function failureMessage(failure: proto.temporal.api.failure.v1.IFailure | null | undefined): string {
  let current = failure;
  const parts: string[] = [];
  while (current) {
    if (current.message) parts.push(current.message);
    current = current.cause;
  }
  return parts.join(' <- ') || 'unknown failure';
}

export interface TimelineLine {
  at: number;
  text: string;
}

/** One workflow execution's history as timeline lines, activities folded into one line each. */
export function timeline(
  events: HistoryEvent[],
  label: string,
): { lines: TimelineLine[]; children: string[] } {
  const lines: TimelineLine[] = [];
  const children: string[] = [];
  const scheduled = new Map<string, { name: string; at: number; detail: string }>();
  const started = new Map<string, { attempt: number; at: number }>();
  // An activity's closing event, folded with its scheduled and started events into one line.
  const activityClosed = (
    attrs: Pick<proto.temporal.api.history.v1.IActivityTaskCompletedEventAttributes, 'scheduledEventId'>,
    at: number,
    outcome: string,
  ) => {
    const key = String(attrs.scheduledEventId ?? '');
    const activity = scheduled.get(key);
    const attempt = started.get(key)?.attempt ?? 1;
    const seconds = activity ? ((at - activity.at) / 1000).toFixed(1) : '?';
    lines.push({
      at,
      text:
        `  ${activity?.name ?? 'activity'}${activity?.detail ?? ''}: ${outcome} in ${seconds}s` +
        (attempt > 1 ? ` (attempt ${attempt})` : ''),
    });
  };
  const childClosed = (workflowId: string | null | undefined, at: number, outcome: string) => {
    lines.push({ at, text: `  child workflow ${workflowId}: ${outcome}` });
  };
  for (const event of events) {
    const at = millis(event);
    const id = String(event.eventId ?? '');
    switch (event.eventType) {
      case EventType.EVENT_TYPE_WORKFLOW_EXECUTION_STARTED: {
        const attrs = event.workflowExecutionStartedEventAttributes!;
        lines.push({
          at,
          text: `${label} started (${attrs.workflowType?.name}, queue ${attrs.taskQueue?.name})`,
        });
        break;
      }
      case EventType.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED: {
        const attrs = event.activityTaskScheduledEventAttributes!;
        scheduled.set(id, { name: attrs.activityType?.name ?? '?', at, detail: activityDetail(attrs) });
        break;
      }
      case EventType.EVENT_TYPE_ACTIVITY_TASK_STARTED: {
        const attrs = event.activityTaskStartedEventAttributes!;
        started.set(String(attrs.scheduledEventId), { attempt: attrs.attempt ?? 1, at });
        if (attrs.lastFailure) {
          const activity = scheduled.get(String(attrs.scheduledEventId));
          lines.push({
            at,
            text: `  ${activity?.name ?? 'activity'}${activity?.detail ?? ''}: attempt ${attrs.attempt} after failure: ${failureMessage(attrs.lastFailure)}`,
          });
        }
        break;
      }
      case EventType.EVENT_TYPE_ACTIVITY_TASK_COMPLETED:
        activityClosed(event.activityTaskCompletedEventAttributes!, at, 'completed');
        break;
      case EventType.EVENT_TYPE_ACTIVITY_TASK_FAILED: {
        const attrs = event.activityTaskFailedEventAttributes!;
        activityClosed(attrs, at, `FAILED: ${failureMessage(attrs.failure)}`);
        break;
      }
      case EventType.EVENT_TYPE_ACTIVITY_TASK_TIMED_OUT: {
        const attrs = event.activityTaskTimedOutEventAttributes!;
        activityClosed(attrs, at, `TIMED OUT: ${failureMessage(attrs.failure)}`);
        break;
      }
      case EventType.EVENT_TYPE_ACTIVITY_TASK_CANCELED:
        activityClosed(event.activityTaskCanceledEventAttributes!, at, 'cancelled');
        break;
      case EventType.EVENT_TYPE_START_CHILD_WORKFLOW_EXECUTION_INITIATED: {
        const childId = event.startChildWorkflowExecutionInitiatedEventAttributes?.workflowId ?? '?';
        children.push(childId);
        lines.push({ at, text: `  child workflow ${childId} started` });
        break;
      }
      case EventType.EVENT_TYPE_CHILD_WORKFLOW_EXECUTION_COMPLETED:
        childClosed(
          event.childWorkflowExecutionCompletedEventAttributes?.workflowExecution?.workflowId,
          at,
          'completed',
        );
        break;
      case EventType.EVENT_TYPE_CHILD_WORKFLOW_EXECUTION_FAILED: {
        const attrs = event.childWorkflowExecutionFailedEventAttributes!;
        childClosed(attrs.workflowExecution?.workflowId, at, `failed: ${failureMessage(attrs.failure)}`);
        break;
      }
      case EventType.EVENT_TYPE_CHILD_WORKFLOW_EXECUTION_CANCELED:
        childClosed(
          event.childWorkflowExecutionCanceledEventAttributes?.workflowExecution?.workflowId,
          at,
          'canceled',
        );
        break;
      case EventType.EVENT_TYPE_CHILD_WORKFLOW_EXECUTION_TERMINATED:
        childClosed(
          event.childWorkflowExecutionTerminatedEventAttributes?.workflowExecution?.workflowId,
          at,
          'terminated',
        );
        break;
      case EventType.EVENT_TYPE_WORKFLOW_EXECUTION_SIGNALED:
        lines.push({ at, text: `  signal ${event.workflowExecutionSignaledEventAttributes?.signalName}` });
        break;
      case EventType.EVENT_TYPE_WORKFLOW_EXECUTION_CANCEL_REQUESTED:
        lines.push({ at, text: `  cancel requested` });
        break;
      case EventType.EVENT_TYPE_WORKFLOW_EXECUTION_COMPLETED:
        lines.push({ at, text: `${label} completed` });
        break;
      case EventType.EVENT_TYPE_WORKFLOW_EXECUTION_CONTINUED_AS_NEW:
        lines.push({ at, text: `${label} continued as new (history kept short)` });
        break;
      case EventType.EVENT_TYPE_WORKFLOW_EXECUTION_FAILED:
        lines.push({
          at,
          text: `${label} FAILED: ${failureMessage(event.workflowExecutionFailedEventAttributes?.failure)}`,
        });
        break;
      case EventType.EVENT_TYPE_WORKFLOW_EXECUTION_CANCELED:
        lines.push({ at, text: `${label} cancelled` });
        break;
      case EventType.EVENT_TYPE_WORKFLOW_EXECUTION_TERMINATED:
        lines.push({
          at,
          text: `${label} terminated: ${event.workflowExecutionTerminatedEventAttributes?.reason ?? ''}`,
        });
        break;
      default:
        break;
    }
  }
  return { lines, children };
}

/** A short tag for an activity from its input: which source, round and batch. */
function activityDetail(attrs: proto.temporal.api.history.v1.IActivityTaskScheduledEventAttributes): string {
  const payload = attrs.input?.payloads?.[0];
  if (!payload?.data) return '';
  try {
    const input = JSON.parse(Buffer.from(payload.data).toString('utf8')) as Record<string, unknown>;
    const parts: string[] = [];
    if (typeof input.source === 'string') parts.push(input.source);
    if (typeof input.round === 'number') parts.push(`round ${input.round}`);
    if (typeof input.batchIndex === 'number') parts.push(`batch ${input.batchIndex}`);
    return parts.length ? ` [${parts.join(' ')}]` : '';
  } catch {
    return '';
  }
}

export async function renderHistory(client: Client, id: string): Promise<string> {
  const output: string[] = [];
  const render = async (workflowId: string, label: string) => {
    // Follow the whole chain of runs: long sampling loops continue-as-new to keep histories short.
    const description = await client.workflow.getHandle(workflowId).describe();
    let runId: string | undefined = description.raw.workflowExecutionInfo?.firstRunId ?? description.runId;
    let origin: number | null = null;
    while (runId) {
      const history: proto.temporal.api.history.v1.IHistory = await client.workflow
        .getHandle(workflowId, runId)
        .fetchHistory();
      const events: HistoryEvent[] = history.events ?? [];
      const { lines, children } = timeline(events, label);
      origin ??= lines[0]?.at ?? 0;
      for (const line of lines) output.push(`${formatOffset(line.at - origin)}  ${line.text}`);
      for (const child of children) {
        output.push('');
        await render(child, child);
      }
      const last: HistoryEvent | undefined = events[events.length - 1];
      runId = last?.workflowExecutionContinuedAsNewEventAttributes?.newExecutionRunId ?? undefined;
    }
  };
  await render(id, `experiment ${id}`);
  return output.join('\n');
}

function formatOffset(ms: number): string {
  const seconds = Math.floor(ms / 1000);
  const h = Math.floor(seconds / 3600);
  const m = Math.floor((seconds % 3600) / 60);
  const s = seconds % 60;
  return `+${String(h).padStart(2, '0')}:${String(m).padStart(2, '0')}:${String(s).padStart(2, '0')}`;
}
