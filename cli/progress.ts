// Progress of an experiment from workflow queries: the experiment's stage, and each source's sampling.
import type { Client } from '@temporalio/client';
import cliProgress from 'cli-progress';
import { SOURCES, type Source } from '../core/config.js';
import {
  experimentProgressQuery,
  samplingProgressQuery,
  type ExperimentProgress,
  type SamplingProgress,
} from '../workflows/messages.js';

export interface ProgressSnapshot {
  status: string;
  experiment: ExperimentProgress | null;
  sampling: Partial<Record<Source, SamplingProgress>>;
  /** Responses already saved by batches still running (from their heartbeats), per source. */
  inFlightResponses: Partial<Record<Source, number>>;
}

export async function readProgress(client: Client, experimentId: string): Promise<ProgressSnapshot> {
  const handle = client.workflow.getHandle(experimentId);
  const description = await handle.describe();
  const status = description.status.name;
  let experiment: ExperimentProgress | null = null;
  try {
    experiment = await handle.query(experimentProgressQuery);
  } catch {
    // No worker to answer (a closed run with no worker up): the status alone is still worth showing.
  }
  const sampling: Partial<Record<Source, SamplingProgress>> = { ...(experiment?.sampling ?? {}) };
  const inFlightResponses: Partial<Record<Source, number>> = {};
  if (experiment && experiment.stage === 'sample') {
    await Promise.all(
      SOURCES.filter((source) => !sampling[source]).map(async (source) => {
        const child = client.workflow.getHandle(experiment!.samplingWorkflowIds[source]);
        try {
          sampling[source] = await child.query(samplingProgressQuery);
          inFlightResponses[source] = await savedInRunningBatches(client, child);
        } catch {
          // Not started yet, or between runs of a continue-as-new.
        }
      }),
    );
  }
  return { status, experiment, sampling, inFlightResponses };
}

/** Batches report how many responses they have saved in their heartbeat details ({ partsDone }). */
async function savedInRunningBatches(
  client: Client,
  handle: ReturnType<Client['workflow']['getHandle']>,
): Promise<number> {
  const description = await handle.describe();
  let saved = 0;
  for (const activity of description.raw.pendingActivities ?? []) {
    const payload = activity.heartbeatDetails?.payloads?.[0];
    if (!payload) continue;
    const details = client.options.loadedDataConverter.payloadConverter.fromPayload(payload) as {
      partsDone?: number;
    };
    saved += details?.partsDone ?? 0;
  }
  return saved;
}

export function formatNumber(value: number): string {
  if (value === 0) return '0';
  if (Math.abs(value) >= 1e6) return value.toExponential(2);
  if (Math.abs(value) >= 1e3) return `${(value / 1e3).toFixed(1)}k`;
  return String(Math.round(value * 100) / 100);
}

export function sourceLine(source: Source, progress: SamplingProgress | undefined, inFlight = 0): string {
  if (!progress) return `${source}: waiting`;
  const { ledger, budget } = progress;
  const flops =
    budget.flops !== null
      ? `${formatNumber(ledger.flops)}/${formatNumber(budget.flops)}`
      : formatNumber(ledger.flops);
  const usd =
    budget.usd !== null ? `$${ledger.usd.toFixed(4)}/$${budget.usd.toFixed(2)}` : `$${ledger.usd.toFixed(4)}`;
  return (
    `${source}: ${progress.samplesDone}/${progress.samplesPlanned} samples, round ${progress.round}, ` +
    `${formatNumber(ledger.promptTokens + ledger.completionTokens)} tokens, ${flops} FLOPs, ${usd}` +
    (inFlight ? ` (+${inFlight} responses saved by running batches)` : '') +
    (progress.paused ? ' (paused)' : '') +
    (progress.done ? ` (done: ${progress.stopReason})` : '')
  );
}

export function formatSnapshot(id: string, snapshot: ProgressSnapshot): string {
  const lines = [`experiment ${id}: ${snapshot.status}`];
  const experiment = snapshot.experiment;
  if (experiment) {
    lines.push(
      `  stage: ${experiment.stage}${experiment.paused ? ' (paused)' : ''}` +
        (experiment.stagesDone.length ? `   done: ${experiment.stagesDone.join(', ')}` : ''),
    );
    lines.push(`  run directory: ${experiment.runDir}`);
    for (const source of SOURCES) {
      lines.push(`  ${sourceLine(source, snapshot.sampling[source], snapshot.inFlightResponses[source])}`);
    }
  }
  return lines.join('\n');
}

const TERMINAL = new Set(['COMPLETED', 'FAILED', 'CANCELLED', 'TERMINATED', 'TIMED_OUT']);

/** Follows an experiment until it closes: bars on a terminal, a line per change otherwise. */
export async function watchExperiment(
  client: Client,
  id: string,
  intervalMs = 1000,
  signal?: AbortSignal,
): Promise<string> {
  const tty = Boolean(process.stderr.isTTY);
  const bars = tty
    ? new cliProgress.MultiBar(
        {
          format: ' {source} [{bar}] {value}/{total} samples | {detail}',
          hideCursor: true,
          clearOnComplete: false,
          stream: process.stderr,
        },
        cliProgress.Presets.shades_classic,
      )
    : null;
  const stageBar = bars?.create(7, 0, { source: 'stage', detail: '' }, { format: ' stage [{bar}] {detail}' });
  const sourceBars = new Map<Source, cliProgress.SingleBar>();
  let lastLine = '';
  for (;;) {
    // Stopped following (`wcse run` shutting down): the experiment goes on without this watcher.
    if (signal?.aborted) {
      bars?.stop();
      throw signal.reason;
    }
    // A query waits for a worker to answer it: the abort cancels one in flight (its worker may be gone).
    const snapshot = signal
      ? await client.withAbortSignal(signal, () => readProgress(client, id))
      : await readProgress(client, id);
    const experiment = snapshot.experiment;
    if (bars && experiment) {
      stageBar?.update(experiment.stagesDone.length, { detail: experiment.stage });
      for (const source of SOURCES) {
        const progress = snapshot.sampling[source];
        if (!progress) continue;
        let bar = sourceBars.get(source);
        if (!bar) {
          bar = bars.create(progress.samplesPlanned, 0, { source: `${source}   `, detail: '' });
          sourceBars.set(source, bar);
        }
        bar.setTotal(Math.max(progress.samplesPlanned, progress.samplesDone));
        bar.update(progress.samplesDone, {
          detail: sourceLine(source, progress).split(', ').slice(1).join(', '),
        });
      }
    } else if (!bars) {
      const line = formatSnapshot(id, snapshot);
      if (line !== lastLine) console.error(line);
      lastLine = line;
    }
    if (TERMINAL.has(snapshot.status)) {
      bars?.stop();
      return snapshot.status;
    }
    await new Promise((resolve) => setTimeout(resolve, intervalMs));
  }
}
