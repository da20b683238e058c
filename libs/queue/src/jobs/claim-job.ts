import { ERROR_CODES, type JobPayload } from '@app/contracts';
import type { JobEntity, JobsRepository } from '@app/persistence';
import type { JobEventBus } from '../events/job-event-bus';
import type { WebhookNotifier } from '../webhooks/webhook-notifier.service';

/**
 * Claims a queued job for this worker: pending → running (null when it is no longer pending: cancelled, or taken by
 * another worker), refused when the payload's tenant does not own it, then announced on the bus and, on the first
 * attempt, by the `started` webhook.
 */
export async function claimJob(deps: { jobs: JobsRepository; bus: JobEventBus; notifier: WebhookNotifier }, { jobId, tenantId }: JobPayload): Promise<JobEntity | null> {
  if (!(await deps.jobs.markRunning(jobId))) return null;
  const job = await deps.jobs.findForTenant(tenantId, jobId);
  if (!job) {
    // Only a payload whose tenant does not own the job gets here; never run it for the wrong tenant.
    await deps.jobs.markFailed(jobId, { code: ERROR_CODES.internal, detail: 'the job does not belong to the tenant it was queued for' });
    return null;
  }
  await deps.bus.publishStatus(jobId, 'running');
  if (job.attempts <= 1) await deps.notifier.notify(job, 'started');
  return job;
}
