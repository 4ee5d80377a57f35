// The small generic problem files tests, benchmarks and the history recorder write: no vitest, no Temporal,
// so a benchmark can use them as well as a test.
import { writeFile } from 'node:fs/promises';
import path from 'node:path';

export interface ProblemFile {
  file: string;
  /** Gold answer by question text. */
  gold: Map<string, string>;
}

/** Questions `1..count` made by `row`, as the generic JSONL file `<name>.jsonl` in `dir`. */
async function writeGenericProblems(
  dir: string,
  name: string,
  count: number,
  row: (i: number) => { id: string; question: string; answer: string; solution?: string },
): Promise<ProblemFile> {
  const rows = Array.from({ length: count }, (_, k) => row(k + 1));
  const file = path.join(dir, `${name}.jsonl`);
  await writeFile(file, rows.map((r) => JSON.stringify(r)).join('\n') + '\n');
  return { file, gold: new Map(rows.map((r) => [r.question, r.answer])) };
}

/** `count` arithmetic questions "Q<i>: what is <i> + <i>?" with gold 2i, as a generic JSONL file. */
export async function writeProblems(dir: string, count: number): Promise<ProblemFile> {
  return writeGenericProblems(dir, 'problems', count, (i) => ({
    id: `q${i}`,
    question: `Q${i}: what is ${i} + ${i}?`,
    answer: String(2 * i),
  }));
}

/**
 * `count` questions "<prefix><i>: what is <i> times <factor>?" with gold factor * i, as the generic JSONL
 * file `<name>.jsonl`, question i with the id `id(i)`.
 */
export async function writeTimesTable(
  dir: string,
  options: { name: string; prefix: string; factor: number; count: number; id: (i: number) => string },
): Promise<ProblemFile> {
  const { prefix, factor } = options;
  return writeGenericProblems(dir, options.name, options.count, (i) => ({
    id: options.id(i),
    question: `${prefix}${i}: what is ${i} times ${factor}?`,
    answer: String(factor * i),
  }));
}

/**
 * writeProblems' questions with a human-written `solution` field (the gold data source's text), as the
 * generic JSONL file `solved.jsonl`; `solution(i)` undefined leaves question i without one.
 */
export async function writeSolvedProblems(
  dir: string,
  count: number,
  solution: (i: number) => string | undefined = (i) => `${i} and ${i} make ${2 * i}.\n#### ${2 * i}`,
): Promise<ProblemFile> {
  return writeGenericProblems(dir, 'solved', count, (i) => ({
    id: `q${i}`,
    question: `Q${i}: what is ${i} + ${i}?`,
    answer: String(2 * i),
    ...(solution(i) !== undefined ? { solution: solution(i) } : {}),
  }));
}
