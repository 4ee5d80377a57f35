// Inputs no one means: a parameter count missing its unit, a non-http endpoint, an absurd max_tokens, and
// a plan far larger than usual (it needs `wcse run --yes`). Each is refused with an error naming the field.
import { describe, expect, it, vi } from 'vitest';
import { access, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { loadConfigFile } from '../cli/config-file.js';
import { runCommand } from '../cli/run.js';
import { ConfigError } from '../core/config.js';
import { confirmationReasons, DEFAULT_CONFIRM_ABOVE, planComputeMatched } from '../core/plan.js';
import { tempDir, testConfig, writeProblems } from './support/harness.js';

const configYaml = (overrides: { wcParams?: string; extra?: string; wcExtra?: string } = {}) => `name: limits
problems:
  path: problems.jsonl
  kind: generic
  fields: { question: question, answer: answer, id: id }
models:
  wc:
    model: small
    baseURL: http://127.0.0.1:1/v1
    params: ${overrides.wcParams ?? '135M'}
${overrides.wcExtra ?? ''}
  se:
    model: large
    baseURL: http://127.0.0.1:1/v1
    params: 1.7B
budget:
  mode: ratio
  samplesPerQuestion: 4
${overrides.extra ?? ''}
`;

async function configError(yaml: string): Promise<string> {
  const dir = await tempDir('limits');
  const file = path.join(dir, 'config.yaml');
  await writeFile(file, yaml);
  const error = await loadConfigFile(file, dir).catch((e: unknown) => e);
  expect(error).toBeInstanceOf(ConfigError);
  return (error as Error).message;
}

describe('implausible config values', () => {
  it('a parameter count without its unit suggests one', async () => {
    expect(await configError(configYaml({ wcParams: '"135"' }))).toMatch(
      /line 10: models\.wc\.params: "135" is 1\.35e\+2 parameters, implausible for an LLM.*did you mean "135M"/,
    );
    expect(await configError(configYaml({ wcParams: '135' }))).toMatch(/models\.wc\.params: .*"135M"/);
    expect(await configError(configYaml({ wcParams: '135k' }))).toMatch(/models\.wc\.params: .*"135M"/);
  });

  it('refuses file:// and other non-http endpoints, naming the field', async () => {
    const fileUrl = configYaml().replace('baseURL: http://127.0.0.1:1/v1', 'baseURL: file:///etc/passwd');
    expect(await configError(fileUrl)).toMatch(/models\.wc\.baseURL: an http:\/\/ or https:\/\/ URL/);
    const fineTuning = configYaml({ wcExtra: '    fineTuning: { baseURL: "ftp://host/v1" }' });
    expect(await configError(fineTuning)).toMatch(/models\.wc\.fineTuning\.baseURL: an http/);
  });

  it('refuses an absurd maxTokens', async () => {
    const message = await configError(configYaml({ wcExtra: '    sampling: { maxTokens: 1e15 }' }));
    expect(message).toMatch(/models\.wc\.sampling\.maxTokens: at most 1000000 tokens/);
  });
});

describe('plans that need --yes', () => {
  const problemStats = (questions: number) => ({
    questions,
    promptTokens: {
      wc: { expectedPerRequestSum: 50 * questions, upperBoundPerRequestSum: 200 * questions },
      se: { expectedPerRequestSum: 50 * questions, upperBoundPerRequestSum: 200 * questions },
    },
  });
  const models = (wcParams: number, extra: Record<string, unknown> = {}) => ({
    wc: { model: 'w', baseURL: 'http://x/v1', params: wcParams, sampling: { maxTokens: 512 }, ...extra },
    se: { model: 's', baseURL: 'http://x/v1', params: 1.7e9, sampling: { maxTokens: 512 }, ...extra },
  });

  it('a small plan needs nothing; samples, FLOPs and dollars above the thresholds each need --yes', () => {
    const small = testConfig({
      problems: { path: 'p.jsonl', kind: 'gsm8k' },
      models: models(135e6),
      budget: { mode: 'ratio', samplesPerQuestion: 4 },
    });
    expect(confirmationReasons(planComputeMatched(small, problemStats(100)))).toEqual([]);

    // Ratio mode with a 1.35e6-parameter WC: 5,036 WC samples per question.
    const many = testConfig({ ...small, models: models(1.35e6) });
    const reasons = confirmationReasons(planComputeMatched(many, problemStats(500)));
    expect(reasons.join('\n')).toMatch(/samples planned, above confirmAbove\.samples = 1\.000e\+6/);

    const flops = testConfig({ ...small, budget: { mode: 'flops', flopsPerSource: 1e21 } });
    expect(confirmationReasons(planComputeMatched(flops, problemStats(100)))).toContainEqual(
      expect.stringMatching(/^2\.000e\+21 FLOPs planned, above confirmAbove\.flops = 1\.000e\+20$/),
    );

    const price = { inputPerMillion: 1, outputPerMillion: 2 };
    const dollars = testConfig({
      ...small,
      models: models(135e6, { price }),
      budget: { mode: 'price', usdPerSource: 80 },
    });
    expect(confirmationReasons(planComputeMatched(dollars, problemStats(100)))).toEqual([
      '$160.00 planned, above confirmAbove.usd = $100.00',
    ]);
    // The config's thresholds replace the defaults.
    expect(confirmationReasons(planComputeMatched(dollars, problemStats(100)), { usd: 200 })).toEqual([]);
    expect(DEFAULT_CONFIRM_ABOVE.usd).toBe(100);
  });

  it('wcse run refuses a large plan without --yes, before writing anything', async () => {
    const dir = await tempDir('limits-run');
    await writeProblems(dir, 3); // S_WC = floor(4 x 1.7e9 / 135e6) = 50: 3 x (50 + 4) = 162 samples
    const runDir = path.join(dir, 'run');
    const file = path.join(dir, 'config.yaml');
    await writeFile(file, configYaml({ extra: `runDir: ${runDir}\nconfirmAbove: { samples: 10 }` }));
    const errors: string[] = [];
    const spy = vi.spyOn(console, 'error').mockImplementation((...args: unknown[]) => {
      errors.push(args.join(' '));
    });
    try {
      expect(await runCommand(file, {})).toBe(1);
    } finally {
      spy.mockRestore();
    }
    expect(errors.join('\n')).toMatch(
      /this plan is large:\n {2}- 1\.620e\+2 samples planned, above confirmAbove\.samples = 1\.000e\+1\n.*--yes/,
    );
    await expect(access(runDir)).rejects.toThrow();
  });
});
