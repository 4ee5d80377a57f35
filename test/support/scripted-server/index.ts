/**
 * `startScriptedServer`: one state object (`state.ts`), the route tables of chat completions, models, files and
 * fine-tuning jobs, served on a real `node:http` socket on 127.0.0.1, and the `ScriptedServer` controls tests use.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { chatRoutes, release } from './chat.js';
import { queueFaults, setFaultRate } from './faults.js';
import { fileRoutes } from './files.js';
import { allJobs, failJob, fineTuningRoutes, stopJobTimers } from './fine-tuning.js';
import { dispatcher, type Route } from './http.js';
import { modelRoutes } from './models.js';
import { createState, rejectWaiters, resetStats, waitFor, type ServerState } from './state.js';
import type { ScriptedServer, ScriptedServerOptions } from './types.js';

export const routes: readonly Route[] = [...chatRoutes, ...modelRoutes, ...fileRoutes, ...fineTuningRoutes];

export async function startScriptedServer(options: ScriptedServerOptions): Promise<ScriptedServer> {
  const state = createState(options);
  const server = http.createServer(dispatcher(state, routes));
  server.keepAliveTimeout = 30_000;
  // Hanging requests must not be cut by Node's defaults; close() destroys everything anyway.
  server.requestTimeout = 0;
  server.headersTimeout = 0;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, '127.0.0.1', () => {
      server.off('error', reject);
      resolve();
    });
  });
  return controls(state, server);
}

function controls(state: ServerState, server: http.Server): ScriptedServer {
  const port = (server.address() as AddressInfo).port;
  const url = `http://127.0.0.1:${port}`;
  const wait = (what: string, predicate: (s: ScriptedServer['stats']) => boolean, timeoutMs?: number) =>
    waitFor(state, predicate, timeoutMs, what);
  return {
    baseURL: `${url}/v1`,
    url,
    port,
    stats: state.stats,
    resetStats: () => resetStats(state),
    setModel(name, script) {
      state.models.set(name, script);
    },
    injectFaults: (...faults) => queueFaults(state, faults),
    pendingFaults: () => state.faultQueue.length,
    clearFaults() {
      state.faultQueue.length = 0;
    },
    setFaultRate: (rate) => setFaultRate(state, rate),
    holdAfter(k) {
      state.holdLimit = k;
    },
    holdWhere(predicate) {
      state.holdPredicate = predicate;
    },
    release: (count) => release(state, count),
    waitForServed: (k, t) => wait(`served >= ${k}`, (s) => s.served >= k, t),
    waitForHeld: (k, t) => wait(`held >= ${k}`, (s) => s.held >= k, t),
    waitForReceived: (k, t) => wait(`received >= ${k}`, (s) => s.received >= k, t),
    waitForAborted: (k, t) => wait(`aborted >= ${k}`, (s) => s.aborted >= k, t),
    waitFor: (predicate, timeoutMs, what) => waitFor(state, predicate, timeoutMs, what),
    jobs: () => allJobs(state),
    files: () => [...state.files.values()].map((f) => f.obj),
    fileContent: (id) => state.files.get(id)?.content.toString('utf8'),
    failJob: (id, message, code = 'training_failed') => failJob(state, id, message, code),
    close: () => close(state, server),
  };
}

function close(state: ServerState, server: http.Server): Promise<void> {
  state.closed = true;
  stopJobTimers(state);
  rejectWaiters(state);
  return new Promise<void>((resolve) => {
    server.close(() => resolve());
    server.closeAllConnections();
  });
}
