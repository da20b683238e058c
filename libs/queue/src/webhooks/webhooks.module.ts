import { Module } from '@nestjs/common';
import { WebhookNotifier } from './webhook-notifier.service';

/** The producing side of webhooks (record + queue a delivery), for the gateway and the workers. */
@Module({ providers: [WebhookNotifier], exports: [WebhookNotifier] })
export class WebhooksModule {}
