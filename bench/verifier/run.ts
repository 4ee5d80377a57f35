// `npm run bench:verifier`: wcse's verifier against HF Math-Verify (the anchor) on two generated corpora of
// MATH-style completions, in one run:
// - short: a sentence or two around the answer (`buildCorpus`);
// - long: shaped like real model outputs, multi-paragraph LaTeX reasoning of 1-3k characters ending in a boxed
//   answer (`buildLongCorpus`).
// For each: agreement, accuracy against the corpus labels, the disagreement classes, and wall time of the
// whole grading pass for each grader (wcse in this process after a warm-up pass; Math-Verify summed over its
// items in its own process, plus that process's wall time with Python start-up and imports), as ratios
// against Math-Verify.
//
//   npm run bench:verifier                       (BENCH_VERIFIER_SIZE=6000, BENCH_VERIFIER_LONG_SIZE=2000)

import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gradeCompletion, VERIFIER_VERSION, type Verdict } from '../../core/verify/index.js';
import { buildCorpus, buildLongCorpus, type CorpusItem, type SolutionRow } from './make-corpus.js';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const outDir = join(root, 'bench/out');
const venv = join(root, '.tools/bench-venv');
const python = join(venv, 'bin/python');
const dataDir = process.env.WCSE_DATA_DIR ?? resolve(root, 'data');
const corpusSize = Number(process.env.BENCH_VERIFIER_SIZE ?? 6000);
const longCorpusSize = Number(process.env.BENCH_VERIFIER_LONG_SIZE ?? 2000);

function run(command: string, args: string[]): string {
  const result = spawnSync(command, args, { encoding: 'utf8', maxBuffer: 1 << 26 });
  if (result.status !== 0) throw new Error(`${command} ${args.join(' ')} failed:\n${result.stderr}`);
  return result.stdout;
}

function ensureMathVerify(): void {
  if (!existsSync(python)) {
    console.log(`creating ${venv} ...`);
    run('python3', ['-m', 'venv', venv]);
  }
  if (spawnSync(python, ['-c', 'import math_verify']).status !== 0) {
    console.log('installing math-verify into the bench venv ...');
    run(join(venv, 'bin/pip'), ['install', '-q', 'math-verify']);
  }
}

function readJsonl<T>(path: string): T[] {
  return readFileSync(path, 'utf8')
    .trim()
    .split('\n')
    .map((line) => JSON.parse(line) as T);
}

interface CorpusResult {
  name: string;
  items: number;
  meanChars: number;
  agree: number;
  wcseRight: number;
  mvRight: number;
  /** Seconds for the whole grading pass. */
  wcseSeconds: number;
  mvSeconds: number;
  /** Wall time of the Math-Verify process, start-up and imports included. */
  mvProcessSeconds: number;
  /** Items where wcse's verdict differs from the label, by rewrite (and ending, for long completions). */
  wcseWrong: Record<string, { count: number; examples: Example[] }>;
  classes: Record<string, { count: number; examples: Example[] }>;
}

/** An item as shown in the report: its id, what wcse extracted and why it judged so, the gold answer. */
interface Example {
  id: number;
  extracted: string | null;
  reason: string;
  gold: string;
}

function benchCorpus(name: string, corpus: CorpusItem[]): CorpusResult {
  const corpusPath = join(outDir, `verifier-corpus-${name}.jsonl`);
  writeFileSync(corpusPath, corpus.map((item) => JSON.stringify(item)).join('\n') + '\n');
  const meanChars = corpus.reduce((sum, item) => sum + item.completion.length, 0) / corpus.length;
  console.log(
    `\n== ${name}: ${corpus.length} completions (${corpus.filter((c) => c.label).length} equivalent, ` +
      `${corpus.filter((c) => !c.label).length} wrong), mean ${meanChars.toFixed(0)} characters -> ${corpusPath}`,
  );

  // wcse: one warm-up pass (JIT), then the timed pass.
  for (const item of corpus.slice(0, 500)) gradeCompletion(item.completion, item.gold, 'math');
  const started = performance.now();
  const ours: Verdict[] = corpus.map((item) => gradeCompletion(item.completion, item.gold, 'math'));
  const wcseSeconds = (performance.now() - started) / 1000;

  const mvPath = join(outDir, `verifier-math-verify-${name}.jsonl`);
  const mvStarted = performance.now();
  const mvSummary = JSON.parse(
    run(python, [join(root, 'bench/verifier/math_verify_runner.py'), corpusPath, mvPath])
      .trim()
      .split('\n')
      .pop()!,
  ) as { seconds: number };
  const mvProcessSeconds = (performance.now() - mvStarted) / 1000;
  const theirs = new Map(
    readJsonl<{ id: number; correct: boolean; error: string | null }>(mvPath).map((r) => [r.id, r]),
  );

  const classes = new Map<string, { count: number; examples: Example[] }>();
  const wcseWrong = new Map<string, { count: number; examples: Example[] }>();
  let agree = 0;
  let wcseRight = 0;
  let mvRight = 0;
  for (const [k, item] of corpus.entries()) {
    const mine = ours[k].correct;
    const mv = theirs.get(item.id)!.correct;
    const shape = item.ending ? `${item.variant}/${item.ending}` : item.variant;
    const example: Example = {
      id: item.id,
      extracted: ours[k].extracted,
      reason: ours[k].reason,
      gold: item.gold,
    };
    if (mine === item.label) wcseRight++;
    else {
      const entry = wcseWrong.get(shape) ?? { count: 0, examples: [] };
      entry.count++;
      if (entry.examples.length < 3) entry.examples.push(example);
      wcseWrong.set(shape, entry);
    }
    if (mv === item.label) mvRight++;
    if (mine === mv) {
      agree++;
      continue;
    }
    const judged = mine === item.label ? 'wcse right' : 'Math-Verify right';
    const key = `${shape} | wcse=${mine} mv=${mv} | ${judged}`;
    const entry = classes.get(key) ?? { count: 0, examples: [] };
    entry.count++;
    if (entry.examples.length < 3) entry.examples.push(example);
    classes.set(key, entry);
  }

  const pct = (n: number) => `${((100 * n) / corpus.length).toFixed(2)}%`;
  console.log(`agreement: ${agree}/${corpus.length} = ${pct(agree)}`);
  console.log(
    `accuracy against corpus labels: wcse ${pct(wcseRight)} (${corpus.length - wcseRight} wrong), ` +
      `Math-Verify ${pct(mvRight)} (${corpus.length - mvRight} wrong)`,
  );
  console.log(
    'disagreement classes (rewrite[/ending] | verdicts | who matches the label): count, wcse extracted, gold',
  );
  const sorted = [...classes.entries()].sort((a, b) => b[1].count - a[1].count);
  for (const [key, { count, examples }] of sorted) {
    const e = examples[0];
    console.log(
      `  ${String(count).padStart(5)}  ${key}   e.g. #${e.id} ${JSON.stringify(e.extracted)} (${e.reason}) gold ${JSON.stringify(e.gold)}`,
    );
  }
  return {
    name,
    items: corpus.length,
    meanChars,
    agree,
    wcseRight,
    mvRight,
    wcseSeconds,
    mvSeconds: mvSummary.seconds,
    mvProcessSeconds,
    wcseWrong: Object.fromEntries([...wcseWrong.entries()].sort((a, b) => b[1].count - a[1].count)),
    classes: Object.fromEntries(sorted),
  };
}

function main(): void {
  ensureMathVerify();
  mkdirSync(outDir, { recursive: true });
  const train = readJsonl<SolutionRow>(join(dataDir, 'math_train.jsonl'));
  const test = readJsonl<SolutionRow>(join(dataDir, 'math500_test.jsonl'));
  const results = [
    benchCorpus('short', buildCorpus([...train, ...test], corpusSize)),
    benchCorpus('long', buildLongCorpus([...train, ...test], longCorpusSize)),
  ];

  console.log(
    `\nverifier ${VERIFIER_VERSION} vs Math-Verify (the anchor: 1.0x); load average ${os
      .loadavg()
      .map((x) => x.toFixed(2))
      .join(', ')} on ${os.cpus().length} CPUs`,
  );
  console.log(
    'corpus  items  chars  wcse s   MV s (process)   wcse answers/s  MV answers/s  wcse/MV speed  wcse/MV (MV process)',
  );
  for (const r of results) {
    console.log(
      [
        r.name.padEnd(6),
        String(r.items).padStart(6),
        r.meanChars.toFixed(0).padStart(6),
        r.wcseSeconds.toFixed(2).padStart(7),
        `${r.mvSeconds.toFixed(2).padStart(6)} (${r.mvProcessSeconds.toFixed(2)})`.padStart(16),
        (r.items / r.wcseSeconds).toFixed(0).padStart(15),
        (r.items / r.mvSeconds).toFixed(0).padStart(13),
        `${(r.mvSeconds / r.wcseSeconds).toFixed(1)}x`.padStart(14),
        `${(r.mvProcessSeconds / r.wcseSeconds).toFixed(1)}x`.padStart(21),
      ].join(' '),
    );
  }
  for (const r of results) {
    const wrong = Object.entries(r.wcseWrong);
    if (wrong.length === 0) continue;
    console.log(
      `\nwcse verdicts against the label, ${r.name} corpus (rewrite[/ending]: count, wcse extracted vs gold):`,
    );
    for (const [shape, { count, examples }] of wrong.slice(0, 20)) {
      const e = examples[0];
      console.log(
        `  ${String(count).padStart(5)}  ${shape}   e.g. #${e.id} ${JSON.stringify(e.extracted)} (${e.reason}) vs ${JSON.stringify(e.gold)}`,
      );
    }
  }
  writeFileSync(
    join(outDir, 'verifier-report.json'),
    JSON.stringify({ version: VERIFIER_VERSION, loadAverage: os.loadavg(), corpora: results }, null, 2),
  );
}

main();
