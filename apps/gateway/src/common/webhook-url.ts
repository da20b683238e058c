import { checkWebhookTarget, WebhookTargetError } from '@app/queue';
import { DomainError } from './domain-error';

/** 422 on `webhook_url` when it is not http(s) or points at a refused (private, loopback, link-local) address. */
export async function assertWebhookUrl(url: string, allowPrivate: boolean): Promise<void> {
  try {
    await checkWebhookTarget(url, allowPrivate);
  } catch (e) {
    if (e instanceof WebhookTargetError) throw DomainError.validation([{ field: 'webhook_url', message: e.message }]);
    throw e;
  }
}
