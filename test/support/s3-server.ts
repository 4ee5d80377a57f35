// A real S3-protocol server on 127.0.0.1 for tests of the S3 store: PyPI's moto in server mode (installed
// into .tools/venv by scripts/setup.sh). moto, not npm's s3rver: s3rver ignores `If-None-Match: *`, so
// createOnce's race could not be tested against it. Each server is a fresh, empty, in-memory S3.
import { CreateBucketCommand, S3Client } from '@aws-sdk/client-s3';
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createServer } from 'node:net';
import path from 'node:path';
import { afterAll, beforeAll } from 'vitest';

// The SDK's notice that its releases after January 2027 need Node 22 is noise in test output.
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';

export interface S3TestServer {
  /** http://127.0.0.1:<port> */
  endpoint: string;
  /** The variables a worker (in this process or a child) reads to reach the server (store-s3.ts). */
  env: Record<string, string>;
  /** A client of the server, for tests that look at objects directly. */
  client: S3Client;
  createBucket(name: string): Promise<void>;
  close(): Promise<void>;
}

/** The Python with moto: WCSE_MOTO_PYTHON, else .tools/venv's. */
function motoPython(): string {
  const python = process.env.WCSE_MOTO_PYTHON ?? path.resolve('.tools/venv/bin/python');
  if (!existsSync(python)) {
    throw new Error(
      `${python} not found: the S3 store tests need moto[server] (run scripts/setup.sh, or set ` +
        'WCSE_MOTO_PYTHON to a Python that has it)',
    );
  }
  return python;
}

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise((resolve) => server.close(resolve));
  return port;
}

export async function startS3Server(): Promise<S3TestServer> {
  const port = await freePort();
  const endpoint = `http://127.0.0.1:${port}`;
  const child: ChildProcess = spawn(
    motoPython(),
    ['-m', 'moto.server', '-H', '127.0.0.1', '-p', String(port)],
    {
      stdio: ['ignore', 'ignore', 'pipe'],
    },
  );
  let stderr = '';
  child.stderr!.on('data', (chunk: Buffer) => {
    stderr = (stderr + chunk.toString()).slice(-4000);
  });
  const exited = new Promise<number | null>((resolve) => child.once('exit', resolve));
  // A test process that dies without its afterAll still takes its server with it.
  const orphanGuard = () => child.kill('SIGKILL');
  process.once('exit', orphanGuard);
  const deadline = Date.now() + 60_000;
  for (;;) {
    const ready = await fetch(`${endpoint}/moto-api/`).then(
      (response) => response.ok,
      () => false,
    );
    if (ready) break;
    if (child.exitCode !== null || Date.now() > deadline) {
      child.kill('SIGKILL');
      throw new Error(`moto server did not start on ${endpoint} (exit ${child.exitCode}): ${stderr}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  const env = {
    AWS_ENDPOINT_URL: endpoint,
    AWS_REGION: 'us-east-1',
    AWS_ACCESS_KEY_ID: 'wcse-test',
    AWS_SECRET_ACCESS_KEY: 'wcse-test-secret',
    WCSE_S3_FORCE_PATH_STYLE: '1',
  };
  const client = new S3Client({
    endpoint,
    region: env.AWS_REGION,
    forcePathStyle: true,
    credentials: { accessKeyId: env.AWS_ACCESS_KEY_ID, secretAccessKey: env.AWS_SECRET_ACCESS_KEY },
  });
  return {
    endpoint,
    env,
    client,
    async createBucket(name) {
      await client.send(new CreateBucketCommand({ Bucket: name }));
    },
    async close() {
      process.off('exit', orphanGuard);
      client.destroy();
      if (child.exitCode === null) {
        child.kill('SIGTERM');
        await exited;
      }
    },
  };
}

/**
 * An S3 server for the tests of the enclosing `describe`, with `bucket` created and the AWS variables set
 * in this process (so workers started here and their child processes reach it); stopped after the tests.
 */
export function useS3Server(bucket: string): S3TestServer {
  const fixture = {} as S3TestServer;
  const saved: Record<string, string | undefined> = {};
  beforeAll(async () => {
    Object.assign(fixture, await startS3Server());
    for (const [name, value] of Object.entries(fixture.env)) {
      saved[name] = process.env[name];
      process.env[name] = value;
    }
    await fixture.createBucket(bucket);
  });
  afterAll(async () => {
    for (const [name, value] of Object.entries(saved)) {
      if (value === undefined) delete process.env[name];
      else process.env[name] = value;
    }
    await fixture.close?.();
  });
  return fixture;
}
