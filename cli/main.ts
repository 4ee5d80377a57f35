// The `wcse` command line. Each command is a thin call into cli/*.ts.
import { DefaultLogger, Runtime } from '@temporalio/worker';
import { WorkflowNotFoundError } from '@temporalio/client';
import { Command, InvalidArgumentError, Option } from 'commander';
import { ConfigError, SOURCES } from '../core/config.js';
import { PlanError } from '../core/plan.js';
import { DatasetError } from '../activities/problems.js';
import { planCommand } from './plan.js';
import { resumeCommand, runCommand, verifyCommand } from './run.js';
import {
  cancelCommand,
  historyCommand,
  pauseCommand,
  raiseBudgetCommand,
  statusCommand,
  watchCommand,
} from './control.js';
import { workerCommand } from './worker.js';
import { ANSWER_FORMATS, gradeCommand } from './grade.js';
import { reportCommand } from './report.js';
import { labelCommand } from './label.js';
import { LabelError } from '../activities/labels.js';

// The in-process worker's INFO lines would drown the progress display; warnings and errors still show.
Runtime.install({ logger: new DefaultLogger((process.env.WCSE_LOG_LEVEL as 'WARN' | undefined) ?? 'WARN') });

const program = new Command('wcse')
  .description('Compute-matched synthetic reasoning data (WC vs SE sampling), durable on Temporal')
  .showHelpAfterError();

/** Errors in what the user gave (config, problem set, plan, experiment id): the message says it all. */
function isExpected(error: unknown): error is Error {
  return (
    error instanceof ConfigError ||
    error instanceof DatasetError ||
    error instanceof PlanError ||
    error instanceof LabelError ||
    error instanceof WorkflowNotFoundError
  );
}

const exit = (action: (...args: never[]) => Promise<number>) =>
  (async (...args: never[]) => {
    try {
      process.exitCode = await action(...args);
    } catch (error) {
      // Expected errors get one clean line; anything else is a bug or an outage, so its stack and causes
      // follow the message.
      if (isExpected(error)) console.error(`error: ${error.message}`);
      else console.error('error:', error);
      process.exitCode = 2;
    }
  }) as (...args: unknown[]) => Promise<void>;

/** commander argument parser: a number > 0 (`--flops 1e18`). */
function positiveNumber(value: string): number {
  const parsed = Number(value);
  if (!(parsed > 0) || !Number.isFinite(parsed)) {
    throw new InvalidArgumentError('expected a positive, finite number.');
  }
  return parsed;
}

function positiveInteger(value: string): number {
  const parsed = positiveNumber(value);
  if (!Number.isInteger(parsed)) throw new InvalidArgumentError('expected a positive integer.');
  return parsed;
}

/** `wcse <name> <id>`: a command on one experiment. */
const experimentCommand = (
  name: string,
  description: string,
  action: (...args: never[]) => Promise<number>,
) => program.command(`${name} <id>`).description(description).action(exit(action));

program
  .command('plan <config>')
  .description(
    "print the compute-matched plan, or a study's arms and its total with and without sharing (nothing is spent)",
  )
  .option('--json', 'machine-readable output')
  .action(exit(planCommand));

program
  .command('run <config>')
  .description(
    'start an experiment, or a study (a config with `arms`) (embedded default: local Temporal + in-process worker, waits)',
  )
  .option('--wait', 'follow the experiment until it closes')
  .option('--id <experimentId>', 'experiment id (default: config name + config hash)')
  .option('--yes', 'start even if the plan is above the confirmAbove thresholds (samples, FLOPs, $)')
  .action(exit(runCommand));

experimentCommand('status', 'progress of an experiment', statusCommand).option(
  '--json',
  'machine-readable output',
);
experimentCommand('watch', 'progress bars until the experiment closes', watchCommand);
experimentCommand('history', 'readable timeline of an experiment', historyCommand);
experimentCommand(
  'cancel',
  'cancel an experiment (resumable); waits until nothing is requested',
  cancelCommand,
).option('--wait-seconds <seconds>', 'longest wait for the runs to close (default 120)', positiveNumber);
experimentCommand('pause', 'pause after in-flight batches', pauseCommand);
experimentCommand(
  'resume',
  'un-pause a running experiment, or restart a failed/cancelled one from its artifacts',
  resumeCommand,
).option('--wait', 'follow it until it closes');
experimentCommand('raise-budget', 'add to the sampling budget of a running experiment', raiseBudgetCommand)
  .addOption(new Option('--source <source>', 'one source (default both)').choices(SOURCES))
  .option('--flops <flops>', 'FLOPs to add (flops mode)', positiveNumber)
  .option('--usd <usd>', 'dollars to add (price mode)', positiveNumber);
experimentCommand(
  'verify',
  "grade an experiment's stored samples again with this verifier (nothing is resampled)",
  verifyCommand,
);
experimentCommand(
  'report',
  'write (if needed) and show the report of a finished experiment',
  reportCommand,
).option('--json', 'print report.json');

program
  .command('label <id>')
  .description(
    "write a human labelling sheet (CSV + HTML) of the judge's FPR sample into the run directory " +
      '(<id>: an experiment id or a run directory); --import folds the labels back in',
  )
  .option('--per-source <n>', 'solutions per source on the sheet (default 50)', positiveInteger)
  .option('--import <file>', "import a labels CSV (the filled sheet.csv or the HTML page's export)")
  .action(exit(labelCommand));
program
  .command('worker')
  .description('run a worker (TEMPORAL_ADDRESS or a Temporal config profile, or the local dev server)')
  .option('--task-queue <queue>', "the experiment's task queue (default: the config's, or wcse)")
  .option('--namespace <namespace>', "namespace (default: the config's, or default)")
  .option('--max-activities <n>', 'parallel activities', positiveInteger, 64)
  .option(
    '--roles <roles>',
    'poll only these roles: workflow,sampling[:wc|:se],cpu,finetune,eval (default all)',
  )
  .option('--config <config>', "the experiment config whose temporal.taskQueues the roles' queues come from")
  .action(exit(workerCommand));
program
  .command('grade')
  .description('grade JSONL on stdin ({completion, answer} per line) and write verdicts to stdout')
  .addOption(new Option('--format <format>', 'answer format').choices(ANSWER_FORMATS).makeOptionMandatory())
  .option('--last-number-fallback', 'without a marked final answer, take the last number (default for gsm8k)')
  .option('--no-last-number-fallback', 'never guess the last number (default for math)')
  .action(exit(gradeCommand));

await program.parseAsync(process.argv);
