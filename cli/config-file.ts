// Reading an experiment config file: YAML syntax errors and schema errors both name the file and line.
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { LineCounter, parseDocument, isNode } from 'yaml';
import {
  ConfigError,
  crossFieldProblems,
  ExperimentConfigSchema,
  testSetsOf,
  type ExperimentConfig,
} from '../core/config.js';

export interface LoadedConfig {
  file: string;
  config: ExperimentConfig;
  /** Absolute run directory, or an s3://bucket/prefix location as written. */
  runDir: string;
}

/** A config file read and parsed as YAML, `${ENV}` expanded; YAML errors name the file and line. */
export async function readConfigDocument(
  file: string,
  cwd = process.cwd(),
): Promise<{
  absolute: string;
  document: ReturnType<typeof parseDocument>;
  lineCounter: LineCounter;
  expanded: unknown;
}> {
  const absolute = path.resolve(cwd, file);
  let text: string;
  try {
    text = await readFile(absolute, 'utf8');
  } catch (error) {
    throw new ConfigError(file, [`cannot read: ${(error as Error).message}`]);
  }
  const lineCounter = new LineCounter();
  const document = parseDocument(text, { lineCounter, prettyErrors: true });
  if (document.errors.length) {
    throw new ConfigError(
      file,
      document.errors.map((error) => {
        const at = error.linePos?.[0];
        return `${at ? `line ${at.line}, column ${at.col}: ` : ''}YAML syntax: ${error.message.split('\n')[0]}`;
      }),
    );
  }
  let expanded: unknown;
  try {
    expanded = expandEnv(document.toJS());
  } catch (error) {
    throw new ConfigError(file, [(error as Error).message]);
  }
  return { absolute, document, lineCounter, expanded };
}

/**
 * Loads and validates a config; relative `problems.path` is resolved against the config file's folder,
 * `runDir` against the working directory (default `runs/<name>`).
 */
export async function loadConfigFile(file: string, cwd = process.cwd()): Promise<LoadedConfig> {
  const { absolute, document, lineCounter, expanded } = await readConfigDocument(file, cwd);
  const result = ExperimentConfigSchema.safeParse(expanded);
  if (!result.success) {
    throw new ConfigError(
      file,
      result.error.issues.map((issue) => {
        const field = issue.path.length ? issue.path.join('.') : '(top level)';
        const line = lineOf(document, lineCounter, issue.path as Array<string | number>);
        return `${line ? `line ${line}: ` : ''}${field}: ${issue.message}`;
      }),
    );
  }
  const config = result.data;
  const crossField = crossFieldProblems(config);
  if (crossField.length) throw new ConfigError(file, crossField);
  config.problems.path = path.resolve(path.dirname(absolute), config.problems.path);
  if (config.evaluation) {
    for (const { problems } of testSetsOf(config.evaluation)) {
      problems.path = path.resolve(path.dirname(absolute), problems.path);
    }
  }
  if (config.finetune?.validation) {
    config.finetune.validation.path = path.resolve(path.dirname(absolute), config.finetune.validation.path);
  }
  if (config.warmup) {
    config.warmup.problems.path = path.resolve(path.dirname(absolute), config.warmup.problems.path);
  }
  const runDir = resolveRunDir(cwd, config.runDir ?? path.join('runs', config.name));
  config.runDir = runDir;
  return { file: absolute, config, runDir };
}

/**
 * A config's run location: an s3://bucket/prefix location (activities/store-s3.ts) as written, without a
 * trailing '/'; a directory made absolute against `cwd`.
 */
export function resolveRunDir(cwd: string, runDir: string): string {
  return /^s3:\/\//i.test(runDir) ? runDir.replace(/\/+$/, '') : path.resolve(cwd, runDir);
}

/** The line of the deepest node along `fieldPath` that exists in the document. */
export function lineOf(
  document: ReturnType<typeof parseDocument>,
  lineCounter: LineCounter,
  fieldPath: Array<string | number>,
): number | null {
  for (let depth = fieldPath.length; depth >= 0; depth--) {
    const node = depth === 0 ? document.contents : document.getIn(fieldPath.slice(0, depth), true);
    if (isNode(node) && node.range) return lineCounter.linePos(node.range[0]).line;
  }
  return null;
}

/**
 * `${NAME}` and `${NAME:-default}` in string values come from the environment, so one config can point at
 * different endpoints. (API keys are never config values: models name the variable in apiKeyEnv.)
 */
export function expandEnv(value: unknown): unknown {
  if (typeof value === 'string') {
    return value.replace(
      /\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}/g,
      (_, name: string, fallback?: string) => {
        const fromEnv = process.env[name];
        if (fromEnv !== undefined && fromEnv !== '') return fromEnv;
        if (fallback !== undefined) return fallback;
        throw new Error(`environment variable ${name} is not set (used as \${${name}} in the config)`);
      },
    );
  }
  if (Array.isArray(value)) return value.map(expandEnv);
  if (value && typeof value === 'object') {
    return Object.fromEntries(Object.entries(value).map(([key, inner]) => [key, expandEnv(inner)]));
  }
  return value;
}
