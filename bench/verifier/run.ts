// `npm run bench:verifier`: wcse's verifier against HF Math-Verify on a generated corpus of MATH-style
// completions. Prints agreement, the disagreement classes (judged against the corpus label), and throughput.

import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gradeCompletion, VERIFIER_VERSION } from '../../core/verify/index.js';
import { buildCorpus, type CorpusItem } from './make-corpus.js';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const outDir = join(root, 'bench/out');
const venv = join(root, '.tools/bench-venv');
const python = join(venv, 'bin/python');
const dataDir = process.env.WCSE_DATA_DIR ?? resolve(root, 'data');
const corpusSize = Number(process.env.BENCH_VERIFIER_SIZE ?? 6000);

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

function main(): void {
  ensureMathVerify();
  mkdirSync(outDir, { recursive: true });
  const rows = [
    ...readJsonl<{ answer: string }>(join(dataDir, 'math_train.jsonl')),
    ...readJsonl<{ answer: string }>(join(dataDir, 'math500_test.jsonl')),
  ];
  const corpus = buildCorpus(rows, corpusSize);
  const corpusPath = join(outDir, 'verifier-corpus.jsonl');
  writeFileSync(corpusPath, corpus.map((item) => JSON.stringify(item)).join('\n') + '\n');
  console.log(
    `corpus: ${corpus.length} completions (${corpus.filter((c) => c.label).length} equivalent, ${corpus.filter((c) => !c.label).length} wrong) -> ${corpusPath}`,
  );

  // wcse: one warm-up pass (JIT), then the timed pass.
  for (const item of corpus.slice(0, 500)) gradeCompletion(item.completion, item.gold, 'math');
  const started = performance.now();
  const ours = corpus.map((item) => gradeCompletion(item.completion, item.gold, 'math'));
  const wcseSeconds = (performance.now() - started) / 1000;

  const mvPath = join(outDir, 'verifier-math-verify.jsonl');
  const mvSummary = JSON.parse(
    run(python, [join(root, 'bench/verifier/math_verify_runner.py'), corpusPath, mvPath])
      .trim()
      .split('\n')
      .pop()!,
  ) as { seconds: number };
  const theirs = new Map(
    readJsonl<{ id: number; correct: boolean; error: string | null }>(mvPath).map((r) => [r.id, r]),
  );

  const classes = new Map<string, { count: number; examples: CorpusItem[] }>();
  let agree = 0;
  let wcseRight = 0;
  let mvRight = 0;
  for (const [k, item] of corpus.entries()) {
    const mine = ours[k].correct;
    const mv = theirs.get(item.id)!.correct;
    if (mine === item.label) wcseRight++;
    if (mv === item.label) mvRight++;
    if (mine === mv) {
      agree++;
      continue;
    }
    const judged = mine === item.label ? 'wcse right' : 'Math-Verify right';
    const key = `${item.variant} | wcse=${mine} mv=${mv} | ${judged}`;
    const entry = classes.get(key) ?? { count: 0, examples: [] };
    entry.count++;
    if (entry.examples.length < 3) entry.examples.push(item);
    classes.set(key, entry);
  }

  const wcseRate = corpus.length / wcseSeconds;
  const mvRate = corpus.length / mvSummary.seconds;
  console.log(`\nverifier ${VERIFIER_VERSION} vs math-verify on ${corpus.length} items`);
  console.log(`agreement: ${agree}/${corpus.length} = ${((100 * agree) / corpus.length).toFixed(2)}%`);
  console.log(
    `accuracy against corpus labels: wcse ${((100 * wcseRight) / corpus.length).toFixed(2)}%, Math-Verify ${((100 * mvRight) / corpus.length).toFixed(2)}%`,
  );
  console.log('\ndisagreement classes (variant | verdicts | who matches the label): count, example');
  const sorted = [...classes.entries()].sort((a, b) => b[1].count - a[1].count);
  for (const [key, { count, examples }] of sorted) {
    const e = examples[0];
    const shown =
      e.completion
        .match(/boxed\{(.*)\}\$?\.?$|final answer is \$(.*)\$\./)
        ?.slice(1)
        .find(Boolean) ?? e.completion.slice(-40);
    console.log(
      `  ${String(count).padStart(5)}  ${key}   e.g. pred ${JSON.stringify(shown)} gold ${JSON.stringify(e.gold)}`,
    );
  }
  console.log(
    `\nthroughput: wcse ${wcseRate.toFixed(0)} answers/s (${wcseSeconds.toFixed(2)} s), Math-Verify ${mvRate.toFixed(0)} answers/s (${mvSummary.seconds.toFixed(2)} s)`,
  );
  console.log(`throughput ratio wcse / Math-Verify: ${(wcseRate / mvRate).toFixed(1)}x`);
  writeFileSync(
    join(outDir, 'verifier-report.json'),
    JSON.stringify(
      {
        version: VERIFIER_VERSION,
        items: corpus.length,
        agree,
        wcseRight,
        mvRight,
        wcseRate,
        mvRate,
        classes: Object.fromEntries(sorted),
      },
      null,
      2,
    ),
  );
}

main();
