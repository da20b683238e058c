import { JobEntity, JobsRepository } from '@app/persistence';
import { createTempDir, createTenantSession, startGateway, type TempDir } from '@app/testing';
import { DataSource } from 'typeorm';
import request from 'supertest';

/**
 * Embedded mode keeps pending jobs across a restart: a job whose in-process queue entry died with the process is
 * found by the reconciler when the next process starts, and runs.
 */
describe('embedded mode: jobs survive a restart', () => {
  let dir: TempDir;

  beforeAll(async () => {
    dir = await createTempDir('neural-restart-');
  });

  afterAll(() => dir.remove());

  it('runs pending and orphaned running jobs on the next start', async () => {
    const first = await startGateway({ storagePath: dir.path, env: { RATE_LIMIT_ENABLED: 'false' } });
    const session = await createTenantSession(first);
    // A job the process accepted but never got to run (as if it crashed right after the insert).
    const job = await first.get(JobsRepository).create({
      tenantId: session.tenantId,
      type: 'compile',
      input: { dsl_code: 'network Lost { input: (8,) layers: Dense(4) Output(2) }', backend: 'pytorch' },
    });
    // Old enough to be past the reconciler's grace period for fresh pending jobs.
    await first.get(DataSource).getRepository(JobEntity).update(job.id, { updatedAt: new Date(Date.now() - 60_000) });
    // And one that was running when the process died (no need to wait JOB_STALL_TIMEOUT in embedded mode).
    const running = await first.get(JobsRepository).create({
      tenantId: session.tenantId,
      type: 'compile',
      input: { dsl_code: 'network Crashed { input: (8,) layers: Dense(4) Output(2) }', backend: 'onnx' },
    });
    expect(await first.get(JobsRepository).markRunning(running.id)).toBe(true);
    await first.close();

    const second = await startGateway({ storagePath: dir.path, env: { RATE_LIMIT_ENABLED: 'false' } });
    try {
      const deadline = Date.now() + 20_000;
      let body: Record<string, any>;
      do {
        body = (await request(second.url).get(`/jobs/${job.id}`).set(session.headers).expect(200)).body;
        if (body.status === 'completed' || body.status === 'failed') break;
        await new Promise((r) => setTimeout(r, 100));
      } while (Date.now() < deadline);
      expect(body).toMatchObject({ status: 'completed', model_id: expect.any(String) });
      await request(second.url).get(`/models/${body.model_id}`).set(session.headers).expect(200);
      let crashed: Record<string, any>;
      do {
        crashed = (await request(second.url).get(`/jobs/${running.id}`).set(session.headers).expect(200)).body;
        if (crashed.status === 'completed' || crashed.status === 'failed') break;
        await new Promise((r) => setTimeout(r, 100));
      } while (Date.now() < deadline);
      expect(crashed).toMatchObject({ status: 'completed', model_id: expect.any(String) });
    } finally {
      await second.close();
    }
  });
});
