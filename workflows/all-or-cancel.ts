// Running sibling tasks (activities, child workflows) so that none is left behind: the first failure
// cancels the others, and the caller only returns once every task has settled. A cancelled workflow
// therefore closes only after its children and activities have finished cancelling (fine-tuning jobs
// cancelled at the service, not orphaned).
import { CancellationScope } from '@temporalio/workflow';

export async function allOrCancel<T>(tasks: Array<() => Promise<T>>): Promise<T[]> {
  const scope = new CancellationScope();
  let failed = false;
  let firstError: unknown;
  const settled = await Promise.allSettled(
    tasks.map((task) =>
      scope.run(task).catch((error: unknown) => {
        if (!failed) {
          failed = true;
          firstError = error;
          scope.cancel();
        }
        throw error;
      }),
    ),
  );
  if (failed) throw firstError;
  return settled.map((result) => (result as PromiseFulfilledResult<T>).value);
}
