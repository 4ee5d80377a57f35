// The `wcse` command line. Each command is a thin call into cli/*.ts.
import { DefaultLogger, Runtime } from '@temporalio/worker';
import { Command } from 'commander';
import { ConfigError } from '../core/config.js';
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
import { gradeCommand } from './grade-command.js';
import { reportCommand } from './report.js';

// The in-process worker's INFO lines would drown the progress display; warnings and errors still show.
Runtime.install({ logger: new DefaultLogger((process.env.WCSE_LOG_LEVEL as 'WARN' | undefined) ?? 'WARN') });

const program = new Command('wcse')
  .description('Compute-matched synthetic reasoning data (WC vs SE sampling), durable on Temporal')
  .showHelpAfterError();

const exit = (action: (...args: never[]) => Promise<number>) =>
  (async (...args: never[]) => {
    try {
      process.exitCode = await action(...args);
    } catch (error) {
      if (error instanceof ConfigError || error instanceof DatasetError || error instanceof PlanError) {
        console.error(`error: ${error.message}`);
      } else {
        console.error(error instanceof Error ? `error: ${error.message}` : error);
      }
      process.exitCode = 2;
    }
  }) as (...args: unknown[]) => Promise<void>;

program
  .command('plan <config>')
  .description('print the compute-matched plan (nothing is spent)')
  .option('--json', 'machine-readable output')
  .action(exit(planCommand));

program
  .command('run <config>')
  .description('start an experiment (embedded default: local Temporal + in-process worker, waits)')
  .option('--wait', 'follow the experiment until it closes')
  .option('--id <experimentId>', 'experiment id (default: config name + config hash)')
  .action(exit(runCommand));

program
  .command('status <id>')
  .option('--json')
  .description('progress of an experiment')
  .action(exit(statusCommand));
program
  .command('watch <id>')
  .description('progress bars until the experiment closes')
  .action(exit(watchCommand));
program
  .command('history <id>')
  .description('readable timeline of an experiment')
  .action(exit(historyCommand));
program.command('cancel <id>').description('cancel an experiment (resumable)').action(exit(cancelCommand));
program.command('pause <id>').description('pause after in-flight batches').action(exit(pauseCommand));
program
  .command('resume <id>')
  .description('un-pause a running experiment, or restart a failed/cancelled one from its artifacts')
  .option('--wait', 'follow it until it closes')
  .action(exit(resumeCommand));
program
  .command('raise-budget <id>')
  .description('add to the sampling budget of a running experiment')
  .option('--source <source>', 'wc or se (default both)')
  .option('--flops <flops>', 'FLOPs to add (flops mode)')
  .option('--usd <usd>', 'dollars to add (price mode)')
  .action(exit(raiseBudgetCommand));
program
  .command('worker')
  .description('run a worker (TEMPORAL_ADDRESS, or the local dev server)')
  .option('--task-queue <queue>', 'task queue', 'wcse')
  .option('--namespace <namespace>', 'namespace', 'default')
  .option('--max-activities <n>', 'parallel activities', '64')
  .action(exit(workerCommand));
program
  .command('verify <id>')
  .description("grade an experiment's stored samples again with this verifier (nothing is resampled)")
  .action(exit(verifyCommand));
program
  .command('report <id>')
  .description('write (if needed) and show the report of a finished experiment')
  .option('--json', 'print report.json')
  .action(exit(reportCommand));
program
  .command('grade')
  .description('grade JSONL on stdin ({completion, answer} per line) and write verdicts to stdout')
  .requiredOption('--format <format>', 'math or gsm8k')
  .action(exit(gradeCommand));

await program.parseAsync(process.argv);
