// Bad input gets an error naming the file, line or field, before anything is spent.
import { describe, expect, it } from 'vitest';
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { loadConfigFile } from '../cli/config-file.js';
import { readProblemSet } from '../activities/problems.js';
import { ConfigError } from '../core/config.js';
import { tempDir } from './support/harness.js';

const goodConfig = `name: bad-input
problems:
  path: problems.jsonl
  kind: gsm8k
models:
  wc:
    model: small
    baseURL: http://127.0.0.1:1/v1
    params: 9B
  se:
    model: large
    baseURL: http://127.0.0.1:1/v1
    params: 27e9
budget:
  mode: ratio
  samplesPerQuestion: 2
`;

describe('config errors', () => {
  it('accepts the good config and resolves paths', async () => {
    const dir = await tempDir('cfg');
    await writeFile(path.join(dir, 'ok.yaml'), goodConfig);
    const loaded = await loadConfigFile(path.join(dir, 'ok.yaml'), dir);
    expect(loaded.config.models.wc.params).toBe(9e9);
    expect(loaded.config.problems.path).toBe(path.join(dir, 'problems.jsonl'));
    expect(loaded.runDir).toBe(path.join(dir, 'runs', 'bad-input'));
  });

  it('names the line and field of a schema error', async () => {
    const dir = await tempDir('cfg');
    const file = path.join(dir, 'bad.yaml');
    await writeFile(
      file,
      goodConfig.replace('params: 27e9', 'params: lots').replace('mode: ratio', 'mode: ratio\n  typo: 1'),
    );
    const error = await loadConfigFile(file, dir).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ConfigError);
    const message = (error as Error).message;
    expect(message).toContain(file);
    expect(message).toMatch(/line 13: models\.se\.params: expected a parameter count like 9e9 or "9B"/);
    expect(message).toMatch(/line \d+: budget: Unrecognized key: "typo"/);
  });

  it('names the line of a YAML syntax error', async () => {
    const dir = await tempDir('cfg');
    const file = path.join(dir, 'syntax.yaml');
    await writeFile(file, goodConfig.replace('  kind: gsm8k', '  kind: [gsm8k'));
    const message = ((await loadConfigFile(file, dir).catch((e: unknown) => e)) as Error).message;
    expect(message).toMatch(/line \d+, column \d+: YAML syntax/);
  });

  it('rejects an API key in place of an environment variable name', async () => {
    const dir = await tempDir('cfg');
    const file = path.join(dir, 'key.yaml');
    await writeFile(
      file,
      goodConfig.replace('    params: 9B', '    params: 9B\n    apiKeyEnv: sk-live-abc123'),
    );
    const message = ((await loadConfigFile(file, dir).catch((e: unknown) => e)) as Error).message;
    expect(message).toMatch(/line 10: models\.wc\.apiKeyEnv: .*environment variable name/);
  });
});

describe('dataset errors', () => {
  it('names the line of a broken row, a row without an answer and a duplicate', async () => {
    const dir = await tempDir('data');
    const file = path.join(dir, 'problems.jsonl');
    await writeFile(
      file,
      [
        JSON.stringify({ question: 'What is 1+1?', answer: 'It is 2.\n#### 2' }),
        '{"question": "broken',
        JSON.stringify({ question: 'What is 2+2?' }),
        JSON.stringify({ question: 'What is 1+1?', answer: '#### 2' }),
        '',
      ].join('\n'),
    );
    const error = await readProblemSet({ path: file, kind: 'gsm8k', fields: {} }).catch((e: unknown) => e);
    const message = (error as Error).message;
    expect(message).toContain(file);
    expect(message).toMatch(/line 2: not valid JSON/);
    expect(message).toMatch(/line 3: field "answer" \(the gold answer\) is missing or empty/);
    expect(message).toMatch(/line 4: duplicate question \(same text as line 1\)/);
  });

  it('requires field names for a generic problem set', async () => {
    await expect(readProblemSet({ path: 'x.jsonl', kind: 'generic', fields: {} })).rejects.toThrow(
      /problems\.fields: a generic problem set must name its question and answer fields/,
    );
  });
});
