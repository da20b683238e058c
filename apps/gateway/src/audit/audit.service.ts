import { type AppConfig, InjectAppConfig } from '@app/config';
import { type AuditEventInput, AuditEventsRepository } from '@app/persistence';
import { Injectable, Logger, type OnApplicationBootstrap, type OnApplicationShutdown } from '@nestjs/common';
import type { Request } from 'express';
import { principalOf } from '../auth/auth.decorators';
import { requestIdOf } from '../common/request-id.middleware';

const PRUNE_INTERVAL_MS = 3_600_000;

/** Records security-relevant events with who, from where and in which request; prunes past AUDIT_RETENTION_DAYS. */
@Injectable()
export class AuditService implements OnApplicationBootstrap, OnApplicationShutdown {
  private readonly logger = new Logger(AuditService.name);
  private pruneTimer?: NodeJS.Timeout;

  constructor(
    @InjectAppConfig() private readonly config: AppConfig,
    private readonly events: AuditEventsRepository,
  ) {}

  onApplicationBootstrap(): void {
    this.pruneTimer = setInterval(() => void this.prune(), PRUNE_INTERVAL_MS).unref();
    void this.prune();
  }

  onApplicationShutdown(): void {
    clearInterval(this.pruneTimer);
  }

  /**
   * Records `event` as done by the request's caller (tenant and key unless the event names them). A failure to write
   * is logged, not thrown: the request it describes has already happened.
   */
  async record(req: Request, event: AuditEventInput): Promise<void> {
    const principal = principalOf(req);
    try {
      await this.events.record({
        tenantId: principal?.tenantId,
        actorKeyId: principal?.apiKeyId,
        ip: req.ip ?? null,
        requestId: requestIdOf(req),
        ...event,
      });
    } catch (err) {
      this.logger.warn(`could not record audit event ${event.action}: ${err instanceof Error ? err.message : String(err)}`);
    }
  }

  private async prune(): Promise<void> {
    try {
      await this.events.pruneBefore(new Date(Date.now() - this.config.audit.retentionDays * 86_400_000));
    } catch (err) {
      this.logger.warn(`could not prune the audit log: ${err instanceof Error ? err.message : String(err)}`);
    }
  }
}
