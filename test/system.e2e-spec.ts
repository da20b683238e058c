import type { INestApplication } from '@nestjs/common';
import { Test } from '@nestjs/testing';
import request from 'supertest';
import { AppModule } from '../apps/gateway/src/app.module';

describe('gateway system routes (real HTTP)', () => {
  let app: INestApplication;

  beforeAll(async () => {
    const moduleRef = await Test.createTestingModule({ imports: [AppModule] }).compile();
    app = moduleRef.createNestApplication();
    await app.init();
  });

  afterAll(() => app.close());

  it('GET /health reports a healthy API with a real timestamp', async () => {
    const res = await request(app.getHttpServer()).get('/health').expect(200);
    expect(res.body).toMatchObject({ status: 'healthy', services: { api: 'healthy' } });
    expect(Math.abs(Date.parse(res.body.timestamp) - Date.now())).toBeLessThan(60_000);
  });

  it('GET / describes the API', async () => {
    const res = await request(app.getHttpServer()).get('/').expect(200);
    expect(res.body.name).toBe('Neural DSL Platform');
    expect(res.body.dsl.layer_types).toBeGreaterThan(50);
  });
});
