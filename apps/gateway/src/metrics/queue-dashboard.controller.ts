import { ERROR_CODES, QUEUES, type QueueName } from '@app/contracts';
import { BullQueueDriver, QueueDriver } from '@app/queue';
import { createBullBoard } from '@bull-board/api';
import { BullAdapter } from '@bull-board/api/bullAdapter';
import { ExpressAdapter } from '@bull-board/express';
import { All, Controller, Get, Req, Res } from '@nestjs/common';
import { ApiExcludeEndpoint, ApiOkResponse, ApiOperation, ApiProduces, ApiTags } from '@nestjs/swagger';
import type { Express, Request, Response } from 'express';
import { RequiresScope } from '../auth/auth.decorators';
import { DomainError } from '../common/domain-error';
import { NoRateLimit } from '../common/rate-limit.decorator';

export const QUEUE_DASHBOARD_PATH = '/admin/queues';

/**
 * Bull Board, the queue dashboard, at `/admin/queues` for administrators. Its Express app is called from these Nest
 * routes rather than mounted with `app.use`, so the global auth guard, rate limit and error filter apply as to every
 * route. Read-only: the job rows are the truth and the reconciler re-queues them, so retrying or removing Bull entries
 * by hand would only fight it. Embedded mode has no Bull: 404.
 */
@ApiTags('system')
@RequiresScope('admin')
@NoRateLimit()
@Controller(QUEUE_DASHBOARD_PATH.slice(1))
export class QueueDashboardController {
  private readonly board?: Express;

  constructor(driver: QueueDriver) {
    if (!(driver instanceof BullQueueDriver)) return;
    const adapter = new ExpressAdapter().setBasePath(QUEUE_DASHBOARD_PATH);
    createBullBoard({
      queues: (Object.values(QUEUES) as QueueName[]).map((name) => new BullAdapter(driver.queue(name), { readOnlyMode: true })),
      serverAdapter: adapter,
      options: { uiConfig: { boardTitle: 'Neural DSL queues' } },
    });
    this.board = adapter.getRouter() as Express;
    this.board.disable('x-powered-by');
  }

  @Get()
  @ApiOperation({ summary: 'Queue dashboard, Bull Board (administrators; distributed mode)', description: 'HTML; its assets and JSON API live under /admin/queues/. HTTP 404 in embedded mode, which has no Bull queues.' })
  @ApiProduces('text/html')
  @ApiOkResponse({ description: 'The dashboard page', schema: { type: 'string' } })
  page(@Req() req: Request, @Res() res: Response): Promise<void> {
    return this.serve(req, res);
  }

  @All('*path')
  @ApiExcludeEndpoint()
  rest(@Req() req: Request, @Res() res: Response): Promise<void> {
    return this.serve(req, res);
  }

  /** Hands the request to Bull Board as if it were mounted at the dashboard path. */
  private serve(req: Request, res: Response): Promise<void> {
    const board = this.board;
    if (!board) {
      // 404, not 503: the dashboard does not exist in this mode, however long the client waits.
      throw new DomainError(ERROR_CODES.notFound, 404, 'Not Found', 'The queue dashboard needs the distributed mode (Redis): embedded mode runs jobs in-process, without Bull queues.');
    }
    const { url, baseUrl } = req;
    req.url = req.url.slice(QUEUE_DASHBOARD_PATH.length) || '/';
    req.baseUrl = QUEUE_DASHBOARD_PATH;
    return new Promise((resolve, reject) => {
      // 'close' too: a client that leaves mid-answer must not leave the promise pending.
      res.once('finish', () => resolve());
      res.once('close', () => resolve());
      board(req, res, (err?: unknown) => {
        req.url = url;
        req.baseUrl = baseUrl;
        if (err) reject(err);
        else reject(DomainError.notFound('Queue dashboard resource'));
      });
    });
  }
}
