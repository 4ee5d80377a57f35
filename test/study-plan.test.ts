// `wcse plan` on a study config, as a user runs it (a real process): every arm's cost and the total with
// and without sharing; the shipped paper grids plan; errors name the file, line and field.
import { describe, expect, it } from 'vitest';
import { execFile } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';
import { tempDir, writeProblems } from './support/harness.js';
import type { StudyPlan } from '../core/study-plan.js';

const run = promisify(execFile);
const wcse = (args: string[]) =>
  run(process.execPath, ['bin/wcse.js', ...args], {
    env: { ...process.env, TEMPORAL_ADDRESS: '' },
    timeout: 120_000,
    maxBuffer: 10 * 1024 * 1024,
  });

/** 12 questions; WC 9e9 vs SE 27e9 at 100 tokens a sample; low (1 vs 3) and high (2 vs 6) plus 1 WC vs 3 WC. */
async function smallStudy(): Promise<string> {
  const dir = await tempDir('study-plan');
  await writeProblems(dir, 12);
  const model = (name: string, params: string) =>
    `    model: ${name}\n    baseURL: http://127.0.0.1:1/v1\n    params: ${params}\n    sampling: { maxTokens: 100 }\n`;
  const file = path.join(dir, 'study.yaml');
  await writeFile(
    file,
    [
      'name: small-study',
      'models:',
      '  weak:',
      model('weak', '9B'),
      '  strong:',
      model('strong', '27B'),
      'pools:',
      '  main:',
      '    problems: { path: problems.jsonl, kind: generic, fields: { question: question, answer: answer } }',
      '    wc: weak',
      '    se: strong',
      'arms:',
      '  - { name: low, budget: { mode: ratio, samplesPerQuestion: 1 } }',
      '  - { name: high, budget: { mode: ratio, samplesPerQuestion: 2 } }',
      '  - name: wc-1-vs-3',
      '    views: [{ source: wc, samples: 1 }, { source: wc, samples: 3 }]',
      '',
    ].join('\n'),
  );
  return file;
}

describe('wcse plan <study>', () => {
  it("prints every arm's cost and the total with and without sharing", async () => {
    const file = await smallStudy();
    const { stdout } = await wcse(['plan', file]);
    const line = (start: string) => stdout.split('\n').find((l) => l.startsWith(start)) ?? '';
    // 12 questions: low 36 + 12, high 72 + 24, wc-1-vs-3 reads 3 per question from WC: 36.
    expect(line('low (main, 12)')).toMatch(/wc@3 se@1\s+48\s/);
    expect(line('high (main, 12)')).toMatch(/wc@6 se@2\s+96\s/);
    expect(line('wc-1-vs-3 (main, 12)')).toMatch(/wc@1 wc@3\s+36\s/);
    expect(line('total without sharing')).toMatch(/\s180\s/);
    // Shared: the pool draws 6 WC and 2 SE per question, once.
    expect(line('total with sharing')).toMatch(/\s96\s/);
    expect(stdout).toMatch(/saved by sharing: .* 84 samples \(46\.7% of sampling\)/);
    expect(stdout).toMatch(/pool draw main\.wc \(weak\): 6\/question x 12 = 72 samples/);

    const { stdout: json } = await wcse(['plan', file, '--json']);
    const plan = JSON.parse(json) as StudyPlan;
    expect(plan.unshared.sampling.samples).toBe(180);
    expect(plan.shared.sampling.samples).toBe(96);
    expect(plan.shared.sampling.flops).toBeCloseTo(12 * (6 * 2 * 9e9 * 100 + 2 * 2 * 27e9 * 100));
    expect(plan.counts.datasets).toEqual({ unshared: 6, shared: 5 });
  });

  it('plans the paper grids: one draw per model at the largest S any arm reads', async () => {
    const { stdout } = await wcse(['plan', 'examples/paper-math.yaml', '--json']);
    const plan = JSON.parse(stdout) as StudyPlan;
    const draw = (use: string) => plan.draws.find((d) => d.uses.includes(use))!;
    // MATH train less the 500 held out for model selection.
    expect(draw('gemma.wc').levels).toEqual([{ samplesPerQuestion: 30, questions: 7000 }]);
    expect(draw('gemma.se').levels).toEqual([{ samplesPerQuestion: 10, questions: 7000 }]);
    expect(draw('gemini.wc').maxSamplesPerQuestion).toBe(35);
    expect(draw('gemini.se').maxSamplesPerQuestion).toBe(1);
    expect(plan.arms.find((a) => a.name === 'low')!.views.map((v) => v.name)).toEqual([
      'wc@3',
      'se@1',
      'gold',
    ]);
    expect(plan.arms.find((a) => a.name === 'subset-500')!.questions).toBe(500);
    expect(plan.shared.total.flops).toBeLessThan(plan.unshared.total.flops);
    expect(plan.shared.sampling.samples).toBe(7000 * (30 + 10 + 35 + 1));

    const { stdout: gsm8k } = await wcse(['plan', 'examples/paper-gsm8k.yaml']);
    expect(gsm8k).toMatch(/^high \(gemma, 6973\)\s+wc@30 se@10 gold/m);
    expect(gsm8k).toMatch(/total with sharing/);
  });

  it('exits non-zero naming the file, line and field of a study error', async () => {
    const dir = await tempDir('study-bad');
    const file = path.join(dir, 'bad.yaml');
    await writeFile(
      file,
      [
        'name: bad',
        'models: {}',
        'pools:',
        '  main: { problems: { path: p.jsonl, kind: generic }, wc: weak, se: strong }',
        'arms:',
        '  - { name: x, samples: { wc: 1, se: 1 }, filter: vote }',
        '',
      ].join('\n'),
    );
    const error = (await wcse(['plan', file]).catch((e: unknown) => e)) as { code: number; stderr: string };
    expect(error.code).toBe(2);
    expect(error.stderr).toContain(file);
    expect(error.stderr).toMatch(/line 6: arms\.0\.filter: /);
  });
});
