// One Temporal dev server and one workflow bundle for the whole test run: starting a server per file
// costs seconds on two cores, and bundling workflows costs more.
import { bundleWorkflowCode } from '@temporalio/worker';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import type { TestProject } from 'vitest/node';
import { ensureDevServer } from '../../workers/temporal-cli.js';
import { WORKFLOWS_PATH } from '../../workers/worker.js';

declare module 'vitest' {
  export interface ProvidedContext {
    temporalAddress: string;
    workflowBundlePath: string;
  }
}

let stateDir = '';
let serverPid = 0;
let bundlePath = '';

export async function setup(project: TestProject): Promise<void> {
  stateDir = await mkdtemp(path.join(os.tmpdir(), 'wcse-test-temporal-'));
  const server = await ensureDevServer({
    stateDir,
    detached: false,
    headless: true,
    // Small limits so continue-as-new is exercised by small tests.
    extraArgs: ['--dynamic-config-value', 'limit.historyCount.suggestContinueAsNew=200'],
  });
  serverPid = server.pid;
  const bundle = await bundleWorkflowCode({ workflowsPath: WORKFLOWS_PATH, logger: quietLogger });
  const bundleDir = path.resolve('test/.tmp');
  await mkdir(bundleDir, { recursive: true });
  // One bundle per test run, so two runs in one checkout never read each other's bundle.
  bundlePath = path.join(bundleDir, `workflow-bundle-${process.pid}.js`);
  await writeFile(bundlePath, bundle.code);
  project.provide('temporalAddress', server.address);
  project.provide('workflowBundlePath', bundlePath);
}

export async function teardown(): Promise<void> {
  if (serverPid) {
    try {
      process.kill(serverPid, 'SIGTERM');
    } catch {
      // already gone
    }
  }
  if (stateDir) await rm(stateDir, { recursive: true, force: true });
  if (bundlePath) await rm(bundlePath, { force: true });
}

const quietLogger = {
  log: () => {},
  trace: () => {},
  debug: () => {},
  info: () => {},
  warn: (message: string) => console.warn(message),
  error: (message: string) => console.error(message),
};
