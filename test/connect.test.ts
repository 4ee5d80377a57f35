// Where `wcse` connects: Temporal's client configuration (environment over a config-file profile), and the
// embedded default when neither gives an address. The embedded dev server itself is covered by cli.test.ts.
import { describe, expect, it } from 'vitest';
import { mkdtemp, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { configuredConnection, resolveTarget } from '../cli/connect.js';
import { ConfigError } from '../core/config.js';

async function configFile(toml: string): Promise<string> {
  const file = path.join(await mkdtemp(path.join(os.tmpdir(), 'wcse-envconfig-')), 'temporal.toml');
  await writeFile(file, toml);
  return file;
}

const PROFILES = [
  '[profile.default]',
  'address = "default.example:7233"',
  '',
  '[profile.prod]',
  'address = "prod.example:7233"',
  'namespace = "prod-ns"',
  'api_key = "prod-key"',
  '[profile.prod.tls]',
  'server_name = "prod.example"',
  '',
].join('\n');

describe('resolveTarget', () => {
  it('takes address, namespace and API key from the environment; an API key turns TLS on', async () => {
    const target = await resolveTarget('from-config', {
      TEMPORAL_ADDRESS: 'cloud.example:7233',
      TEMPORAL_NAMESPACE: 'ns.acct',
      TEMPORAL_API_KEY: 'secret',
    });
    expect(target).toEqual({
      connectionOptions: { address: 'cloud.example:7233', apiKey: 'secret', tls: true, metadata: undefined },
      namespace: 'ns.acct',
      embedded: false,
      uiUrl: null,
    });
  });

  it("uses the experiment config's namespace when the environment names none, and TLS only when asked", async () => {
    const plain = await resolveTarget('from-config', { TEMPORAL_ADDRESS: 'cluster:7233' });
    expect(plain.namespace).toBe('from-config');
    expect(plain.connectionOptions.tls).toBeUndefined();
    const tls = await resolveTarget(undefined, { TEMPORAL_ADDRESS: 'cluster:7233', TEMPORAL_TLS: 'true' });
    expect(tls.namespace).toBe('default');
    expect(tls.connectionOptions.tls).toBeTruthy();
  });

  it('reads the TEMPORAL_PROFILE profile of the config file; the environment overrides its fields', async () => {
    const file = await configFile(PROFILES);
    const prod = await resolveTarget('from-config', { TEMPORAL_CONFIG_FILE: file, TEMPORAL_PROFILE: 'prod' });
    expect(prod.embedded).toBe(false);
    expect(prod.namespace).toBe('prod-ns');
    expect(prod.connectionOptions).toMatchObject({
      address: 'prod.example:7233',
      apiKey: 'prod-key',
      tls: { serverNameOverride: 'prod.example' },
    });
    const overridden = await resolveTarget(undefined, {
      TEMPORAL_CONFIG_FILE: file,
      TEMPORAL_PROFILE: 'prod',
      TEMPORAL_NAMESPACE: 'other-ns',
    });
    expect(overridden.namespace).toBe('other-ns');
    expect(overridden.connectionOptions.address).toBe('prod.example:7233');
    const byDefault = await resolveTarget(undefined, { TEMPORAL_CONFIG_FILE: file });
    expect(byDefault.connectionOptions.address).toBe('default.example:7233');
  });

  it('configures no address without TEMPORAL_ADDRESS or a profile, or with an empty TEMPORAL_ADDRESS', async () => {
    expect(configuredConnection({}).connectionOptions.address).toBeUndefined();
    const file = await configFile(PROFILES);
    expect(
      configuredConnection({ TEMPORAL_CONFIG_FILE: file, TEMPORAL_ADDRESS: '' }).connectionOptions.address,
    ).toBe('');
  });

  it('names the config file and the profile when the profile does not exist', async () => {
    const file = await configFile(PROFILES);
    const error = await resolveTarget(undefined, {
      TEMPORAL_CONFIG_FILE: file,
      TEMPORAL_PROFILE: 'staging',
    }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ConfigError);
    expect((error as ConfigError).message).toContain(file);
    expect((error as ConfigError).message).toMatch(/Profile 'staging' not found/);
  });
});
