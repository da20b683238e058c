import { FINISHED_STATUSES } from '@app/contracts';
import { JobsRepository } from '@app/persistence';
import { Injectable } from '@nestjs/common';
import type { MessageEvent } from '@nestjs/common';
import { Observable } from 'rxjs';
import { DomainError } from '../common/domain-error';
import type { JobListDto, JobListQueryDto } from './dto/job.dto';
import { toJobView, type JobView } from './job.view';

/** How often the event stream re-reads a job: the row is the truth, and any gateway or worker may change it. */
const EVENTS_POLL_MS = 250;

@Injectable()
export class JobsService {
  constructor(private readonly jobs: JobsRepository) {}

  async list(tenantId: string, q: JobListQueryDto): Promise<JobListDto> {
    const page = await this.jobs.list(tenantId, { skip: q.skip, limit: q.limit, status: q.status, type: q.type });
    return { jobs: page.items.map(toJobView), total: page.total, skip: q.skip, limit: q.limit };
  }

  async get(tenantId: string, id: string): Promise<JobView> {
    const job = await this.jobs.findForTenant(tenantId, id);
    if (!job) throw DomainError.notFound('job', id);
    return toJobView(job);
  }

  async cancel(tenantId: string, id: string): Promise<JobView> {
    const job = await this.jobs.findForTenant(tenantId, id);
    if (!job) throw DomainError.notFound('job', id);
    if (!(await this.jobs.markCancelled(tenantId, id))) {
      const now = await this.get(tenantId, id);
      throw DomainError.conflict(`Job ${id} already finished with status ${now.status}; only pending or running jobs can be cancelled.`);
    }
    return this.get(tenantId, id);
  }

  /** The job now, then again at every change, completing after it reaches a finished status. */
  async events(tenantId: string, id: string): Promise<Observable<MessageEvent>> {
    const first = await this.get(tenantId, id);
    return new Observable<MessageEvent>((subscriber) => {
      let last = JSON.stringify(first);
      subscriber.next({ type: 'job', data: first });
      if (FINISHED_STATUSES.includes(first.status)) {
        subscriber.complete();
        return;
      }
      let busy = false;
      const timer = setInterval(async () => {
        if (busy) return;
        busy = true;
        try {
          const job = await this.jobs.findForTenant(tenantId, id);
          if (!job) {
            subscriber.complete();
            return;
          }
          const view = toJobView(job);
          const text = JSON.stringify(view);
          if (text !== last) {
            last = text;
            subscriber.next({ type: 'job', data: view });
          }
          if (FINISHED_STATUSES.includes(view.status)) subscriber.complete();
        } catch (e) {
          subscriber.error(e);
        } finally {
          busy = false;
        }
      }, EVENTS_POLL_MS);
      return () => clearInterval(timer);
    });
  }
}
