import type { AppConfig } from '@app/config';
import type { CompileService, QueueDriver } from '@app/queue';
import type { JobsRepository } from '@app/persistence';
import { DomainError } from '../common/domain-error';
import { CompileController } from './compile.controller';

describe('CompileController webhook_url', () => {
  const tenant = { tenantId: 't', apiKeyId: 'k', isAdmin: false };
  const body = { dsl_code: 'network N {\n  input: (4,)\n  layers:\n    Output(3)\n}', backend: 'tensorflow' as const };

  function controller(allowPrivate: boolean) {
    const compiler = { compileAndStore: jest.fn().mockResolvedValue({ model_id: 'm' }) };
    const config = { webhooks: { allowPrivate } } as unknown as AppConfig;
    return { compiler, controller: new CompileController(config, compiler as unknown as CompileService, {} as JobsRepository, {} as QueueDriver) };
  }

  it('refuses a private target on the sync route too (it was accepted and ignored)', async () => {
    const { compiler, controller: c } = controller(false);
    const refused = c.sync(tenant, { ...body, webhook_url: 'http://169.254.169.254/latest/meta-data' });
    await expect(refused).rejects.toBeInstanceOf(DomainError);
    await expect(refused).rejects.toMatchObject({ status: 422, errors: [{ field: 'webhook_url' }] });
    expect(compiler.compileAndStore).not.toHaveBeenCalled();
  });

  it('compiles with a public target, or any target where private ones are allowed', async () => {
    await expect(controller(false).controller.sync(tenant, { ...body, webhook_url: 'http://93.184.215.14/hook' })).resolves.toEqual({ model_id: 'm' });
    await expect(controller(true).controller.sync(tenant, { ...body, webhook_url: 'http://127.0.0.1/hook' })).resolves.toEqual({ model_id: 'm' });
  });
});
