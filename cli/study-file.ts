// Reading a study config file (core/study.ts): the same YAML reading as an experiment config, errors naming
// the file, line and field; relative problem paths resolved against the config file's folder.
import path from 'node:path';
import { ConfigError, testSetsOf } from '../core/config.js';
import { formatIssue, isStudyDocument, studyIssues, type StudyConfig } from '../core/study.js';
import { lineOf, readConfigDocument, resolveRunDir } from './config-file.js';

export interface LoadedStudy {
  file: string;
  study: StudyConfig;
  /** Absolute run directory. */
  runDir: string;
}

/** Whether a config file is a study (a top-level `arms` list) rather than an experiment. */
export async function isStudyFile(file: string, cwd = process.cwd()): Promise<boolean> {
  const { expanded } = await readConfigDocument(file, cwd);
  return isStudyDocument(expanded);
}

export async function loadStudyFile(file: string, cwd = process.cwd()): Promise<LoadedStudy> {
  const { absolute, document, lineCounter, expanded } = await readConfigDocument(file, cwd);
  const { study, issues } = studyIssues(expanded);
  if (!study) {
    throw new ConfigError(
      file,
      issues.map((issue) => {
        const line = lineOf(document, lineCounter, issue.path);
        return `${line ? `line ${line}: ` : ''}${formatIssue(issue)}`;
      }),
    );
  }
  const resolve = (relative: string) => path.resolve(path.dirname(absolute), relative);
  for (const pool of Object.values(study.pools)) pool.problems.path = resolve(pool.problems.path);
  if (study.evaluation) {
    for (const { problems } of testSetsOf(study.evaluation)) problems.path = resolve(problems.path);
  }
  if (study.finetune?.validation) study.finetune.validation.path = resolve(study.finetune.validation.path);
  const runDir = resolveRunDir(cwd, study.runDir ?? path.join('runs', study.name));
  study.runDir = runDir;
  return { file: absolute, study, runDir };
}
