// Reading a problem set (JSONL) into normalised problems, with errors that name the file, line and field.
import { readFile } from 'node:fs/promises';
import type { ProblemsConfig } from '../core/config.js';
import { seededSubset } from '../core/hash.js';
import type { Problem } from '../core/records.js';

export class DatasetError extends Error {
  constructor(
    readonly file: string,
    readonly problems: string[],
  ) {
    const shown = problems.slice(0, 10);
    const more = problems.length > shown.length ? `\n  ... and ${problems.length - shown.length} more` : '';
    super(`${file}: invalid problem set\n${shown.map((p) => `  - ${p}`).join('\n')}${more}`);
    this.name = 'DatasetError';
  }
}

const DEFAULT_FIELDS: Record<
  ProblemsConfig['kind'],
  { question?: string; answer?: string; id?: string; level?: string; solution?: string }
> = {
  gsm8k: { question: 'question', answer: 'answer', solution: 'answer' },
  math: { question: 'problem', answer: 'answer', id: 'unique_id', level: 'level', solution: 'solution' },
  generic: {},
};

/**
 * The problems a config names: every row of the file less the `holdOut` questions, then the `limit`
 * subset. Errors name the file, line and field.
 */
export async function readProblemSet(config: ProblemsConfig): Promise<Problem[]> {
  const all = await readAllProblems(config);
  const heldOut = new Set(heldOutOf(all, config).map((problem) => problem.id));
  return selectSubset(
    all.filter((problem) => !heldOut.has(problem.id)),
    config,
  );
}

/** The `holdOut` questions of a training problem file (model selection's validation set), or []. */
export async function readHeldOutProblems(config: ProblemsConfig): Promise<Problem[]> {
  return config.holdOut ? heldOutOf(await readAllProblems(config), config) : [];
}

/** A seeded subset of its own (keys differ from `limit`'s), so holding out never depends on `limit`. */
function heldOutOf(all: Problem[], config: ProblemsConfig): Problem[] {
  if (!config.holdOut) return [];
  if (config.holdOut >= all.length) {
    throw new DatasetError(config.path, [
      `problems.holdOut: ${config.holdOut} held-out questions would leave none of the file's ${all.length} to train on`,
    ]);
  }
  return seededSubset(all, config.holdOut, config.seed ?? 0, (problem) => `hold-out\u0000${problem.id}`);
}

async function readAllProblems(config: ProblemsConfig): Promise<Problem[]> {
  const fields = { ...DEFAULT_FIELDS[config.kind], ...config.fields };
  if (!fields.question || !fields.answer) {
    throw new DatasetError(config.path, [
      'problems.fields: a generic problem set must name its question and answer fields',
    ]);
  }
  let text: string;
  try {
    text = await readFile(config.path, 'utf8');
  } catch (error) {
    throw new DatasetError(config.path, [`cannot read the file: ${(error as Error).message}`]);
  }
  const errors: string[] = [];
  const problems: Problem[] = [];
  const lineOfId = new Map<string, number>();
  const lineOfQuestion = new Map<string, number>();
  const lines = text.split('\n');
  for (let index = 0; index < lines.length; index++) {
    const lineNumber = index + 1;
    const line = lines[index].trim();
    if (line === '') continue;
    let row: unknown;
    try {
      row = JSON.parse(line);
    } catch (error) {
      errors.push(`line ${lineNumber}: not valid JSON (${(error as Error).message})`);
      continue;
    }
    if (typeof row !== 'object' || row === null || Array.isArray(row)) {
      errors.push(`line ${lineNumber}: expected a JSON object`);
      continue;
    }
    const record = row as Record<string, unknown>;
    const question = stringField(record, fields.question);
    const gold =
      stringField(record, fields.answer) ?? (config.kind === 'math' ? stringField(record, 'solution') : null);
    if (!question)
      errors.push(`line ${lineNumber}: field "${fields.question}" (the question) is missing or empty`);
    if (!gold)
      errors.push(`line ${lineNumber}: field "${fields.answer}" (the gold answer) is missing or empty`);
    if (!question || !gold) continue;
    const id = (fields.id ? stringField(record, fields.id) : null) ?? `line-${lineNumber}`;
    const firstIdLine = lineOfId.get(id);
    if (firstIdLine !== undefined) {
      errors.push(`line ${lineNumber}: duplicate id "${id}" (first at line ${firstIdLine})`);
      continue;
    }
    const firstQuestionLine = lineOfQuestion.get(question);
    if (firstQuestionLine !== undefined) {
      errors.push(`line ${lineNumber}: duplicate question (same text as line ${firstQuestionLine})`);
      continue;
    }
    lineOfId.set(id, lineNumber);
    lineOfQuestion.set(question, lineNumber);
    const level = fields.level ? stringField(record, fields.level) : null;
    const problem: Problem = { id, question, gold, ...(level ? { level } : {}) };
    origins.set(problem, {
      line: lineNumber,
      solutionField: fields.solution ?? null,
      solution: fields.solution ? stringField(record, fields.solution) : null,
    });
    problems.push(problem);
  }
  if (errors.length) throw new DatasetError(config.path, errors);
  if (problems.length === 0) throw new DatasetError(config.path, ['the file holds no problems']);
  return problems;
}

/**
 * Where a problem read by `readProblemSet` came from: its line, and its human-written solution (the `gold`
 * data source) from `fields.solution`, null when the field is absent or empty (or none is configured).
 */
export interface ProblemOrigin {
  line: number;
  solutionField: string | null;
  solution: string | null;
}

const origins = new WeakMap<Problem, ProblemOrigin>();

/** The origin of a problem object `readProblemSet` returned; null for any other object. */
export function problemOrigin(problem: Problem): ProblemOrigin | null {
  return origins.get(problem) ?? null;
}

function stringField(record: Record<string, unknown>, field: string | undefined): string | null {
  if (!field) return null;
  const value = record[field];
  if (typeof value === 'number') return String(value);
  return typeof value === 'string' && value.trim() !== '' ? value : null;
}

/** `limit` rows: the first ones, or a seeded random subset kept in file order. */
function selectSubset(problems: Problem[], config: ProblemsConfig): Problem[] {
  if (!config.limit || config.limit >= problems.length) return problems;
  if (config.seed === undefined) return problems.slice(0, config.limit);
  return seededSubset(problems, config.limit, config.seed, (problem) => problem.id);
}
