// `wcse grade --format math|gsm8k`: the verifier on JSONL from stdin.
import { runGrade } from './grade.js';

export async function gradeCommand(options: { format: string }): Promise<number> {
  if (options.format !== 'math' && options.format !== 'gsm8k') {
    throw new Error(`--format: expected math or gsm8k, got ${options.format}`);
  }
  const { errors } = await runGrade({ format: options.format }, process.stdin, process.stdout);
  return errors ? 1 : 0;
}
