// `wcse grade --format math|gsm8k`: grades JSONL completions read from stdin, one output line per input line.

import { createInterface } from 'node:readline';
import { gradeCompletion, type AnswerFormat } from '../core/verify/index.js';

export const ANSWER_FORMATS: readonly AnswerFormat[] = ['math', 'gsm8k'];

export interface GradeCliOptions {
  format: AnswerFormat;
  /** `--last-number-fallback` / `--no-last-number-fallback`; undefined: the format's default. */
  lastNumberFallback?: boolean;
}

interface GradeInput {
  completion: string;
  answer: string;
  finishReason?: string | null;
}

function parseInputLine(line: string): GradeInput | string {
  let value: unknown;
  try {
    value = JSON.parse(line);
  } catch (error) {
    return `invalid JSON (${(error as Error).message})`;
  }
  if (value === null || typeof value !== 'object' || Array.isArray(value)) return 'not a JSON object';
  const record = value as Record<string, unknown>;
  if (typeof record.completion !== 'string') return 'field "completion" is missing or not a string';
  if (typeof record.answer !== 'string') return 'field "answer" is missing or not a string';
  const finishReason = record.finishReason ?? record.finish_reason;
  return {
    completion: record.completion,
    answer: record.answer,
    finishReason: typeof finishReason === 'string' ? finishReason : null,
  };
}

/** Reads JSONL from `input`, writes one verdict line per input line (same order); bad lines get an error line. */
export async function runGrade(
  options: GradeCliOptions,
  input: NodeJS.ReadableStream,
  output: NodeJS.WritableStream,
): Promise<{ lines: number; errors: number }> {
  let lines = 0;
  let errors = 0;
  const reader = createInterface({ input, crlfDelay: Infinity });
  for await (const line of reader) {
    lines++;
    let result: Record<string, unknown>;
    if (line.trim() === '') {
      errors++;
      result = {
        line: lines,
        error: `line ${lines}: expected JSON object with string fields completion and answer: empty line`,
      };
    } else {
      const parsed = parseInputLine(line);
      if (typeof parsed === 'string') {
        errors++;
        result = {
          line: lines,
          error: `line ${lines}: expected JSON object with string fields completion and answer: ${parsed}`,
        };
      } else {
        const verdict = gradeCompletion(parsed.completion, parsed.answer, options.format, {
          finishReason: parsed.finishReason,
          lastNumberFallback: options.lastNumberFallback,
        });
        result = {
          extracted: verdict.extracted,
          correct: verdict.correct,
          reason: verdict.reason,
          normalized: verdict.normalized,
        };
      }
    }
    if (!output.write(`${JSON.stringify(result)}\n`))
      await new Promise((resolve) => output.once('drain', resolve));
  }
  return { lines, errors };
}

/** `wcse grade`: stdin to stdout; exit code 1 when any line was malformed. */
export async function gradeCommand(options: GradeCliOptions): Promise<number> {
  const { errors } = await runGrade(options, process.stdin, process.stdout);
  return errors ? 1 : 0;
}
