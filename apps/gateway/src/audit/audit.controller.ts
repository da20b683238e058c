import { AuditEventsRepository } from '@app/persistence';
import { Controller, Get, Query } from '@nestjs/common';
import { ApiOkResponse, ApiOperation, ApiTags } from '@nestjs/swagger';
import { RequiresScope } from '../auth/auth.decorators';
import { iso } from '../common/iso';
import { AuditEventListDto, AuditQueryDto } from './dto/audit.dto';

@ApiTags('audit')
@Controller('audit')
export class AuditController {
  constructor(private readonly events: AuditEventsRepository) {}

  @Get()
  @RequiresScope('admin')
  @ApiOperation({
    summary: 'The audit log, newest first (administrators)',
    description: 'Key creation and revocation, failed authentications, refused scopes, webhook secret rotation, deletes, cancellations and scaling, with the acting key, IP and request id.',
  })
  @ApiOkResponse({ type: AuditEventListDto })
  async list(@Query() q: AuditQueryDto): Promise<AuditEventListDto> {
    const page = await this.events.list({ skip: q.skip, limit: q.limit, tenantId: q.tenant_id, action: q.action, since: q.since, until: q.until });
    return {
      events: page.items.map((e) => ({
        id: e.id,
        action: e.action,
        tenant_id: e.tenantId,
        actor_key_id: e.actorKeyId,
        target_type: e.targetType,
        target_id: e.targetId,
        ip: e.ip,
        request_id: e.requestId,
        details: e.details,
        created_at: iso(e.createdAt)!,
      })),
      total: page.total,
      skip: q.skip,
      limit: q.limit,
    };
  }
}
