import { Body, Controller, Get, type LoggerService, Module, Post } from '@nestjs/common';
import { Type } from 'class-transformer';
import { IsInt, IsOptional, IsString, Max, Min, MinLength, ValidateNested } from 'class-validator';
import request from 'supertest';
import { CurrentTenant, type TenantContext } from '../apps/gateway/src/auth/auth.decorators';
import { DomainError } from '../apps/gateway/src/common/domain-error';
import { createTenantSession, startGateway, type TenantSession, type TestGateway } from '@app/testing';

class PartDto {
  @IsInt() @Min(1) units!: number;
}

class ItemDto {
  @IsString() @MinLength(1) name!: string;
  @IsOptional() @IsInt() @Max(10) count?: number;
  @IsOptional() @ValidateNested({ each: true }) @Type(() => PartDto) parts?: PartDto[];
}

/** Test-only routes that fail in each way the error filter must handle. */
@Controller('test-errors')
class ErrorsTestController {
  @Post('items')
  create(@Body() body: ItemDto, @CurrentTenant() tenant: TenantContext) {
    return { name: body.name, tenant_id: tenant.tenantId };
  }

  @Get('items')
  list() {
    return { items: [] };
  }

  @Get('boom')
  boom(): never {
    throw new Error('secret internal detail at /srv/app/secret.ts');
  }

  @Get('conflict')
  conflict(): never {
    throw DomainError.conflict('The job has already finished.');
  }
}

@Module({ controllers: [ErrorsTestController] })
class ErrorsTestModule {}

const PROBLEM = /^application\/problem\+json/;

describe('error format, request ids and HTTP hygiene (embedded gateway, real HTTP)', () => {
  let gw: TestGateway;
  let session: TenantSession;
  const loggedErrors: string[] = [];
  const logger: LoggerService = {
    log: () => undefined,
    warn: () => undefined,
    error: (...parts: unknown[]) => void loggedErrors.push(parts.map(String).join('\n')),
  };

  beforeAll(async () => {
    gw = await startGateway({ env: { BODY_LIMIT: '2kb', CORS_ORIGINS: 'http://allowed.example' }, imports: [ErrorsTestModule], logger });
    session = await createTenantSession(gw);
  });
  afterAll(() => gw?.close());

  const post = (path: string) => request(gw.url).post(path).set(session.headers);

  it('malformed JSON is a 400 malformed_json problem', async () => {
    const res = await post('/test-errors/items').set('Content-Type', 'application/json').send('{"name": "a",');
    expect(res.status).toBe(400);
    expect(res.headers['content-type']).toMatch(PROBLEM);
    expect(res.body).toMatchObject({ status: 400, code: 'malformed_json', title: 'Malformed JSON' });
    expect(res.body.detail).toMatch(/not valid JSON/);
    expect(res.body.request_id).toBe(res.headers['x-request-id']);
  });

  it('a JSON body that is not an object is refused', async () => {
    const bare = await post('/test-errors/items').set('Content-Type', 'application/json').send('"just a string"');
    expect(bare.status).toBe(400);
    expect(bare.body).toMatchObject({ code: 'malformed_json', detail: 'The request body must be a JSON object.' });
    const array = await post('/test-errors/items').send([{ name: 'a' }]);
    expect(array.status).toBe(422);
    expect(array.body.errors).toEqual([{ field: '(body)', message: 'the body must be a JSON object' }]);
  });

  it('a body over BODY_LIMIT is a 413 problem', async () => {
    const res = await post('/test-errors/items').send({ name: 'x'.repeat(4000) });
    expect(res.status).toBe(413);
    expect(res.headers['content-type']).toMatch(PROBLEM);
    expect(res.body).toMatchObject({ status: 413, code: 'payload_too_large' });
    expect(res.body.detail).toContain('2kb');
  });

  it('a predict body over BODY_LIMIT but within PREDICT_BODY_LIMIT reaches the route', async () => {
    const body = { instances: [Array.from({ length: 2000 }, () => 0.5)] };
    expect(JSON.stringify(body).length).toBeGreaterThan(2 * 1024);
    const res = await post('/deployments/00000000-0000-4000-8000-000000000000/predict').send(body);
    expect([res.status, res.body.code]).toEqual([404, 'not_found']);
  });

  it('a body failing validation is a 422 with one {field, message} per field, nested paths included', async () => {
    const res = await post('/test-errors/items').send({ name: '', count: 11, parts: [{ units: 2 }, { units: 0 }], extra: true });
    expect(res.status).toBe(422);
    expect(res.headers['content-type']).toMatch(PROBLEM);
    expect(res.body).toMatchObject({ status: 422, code: 'validation_error', title: 'Unprocessable Entity' });
    const fields = (res.body.errors as { field: string; message: string }[]).map((e) => e.field).sort();
    expect(fields).toEqual(['count', 'extra', 'name', 'parts[1].units']);
    for (const e of res.body.errors) expect(typeof e.message).toBe('string');
    expect(res.body.errors.find((e: { field: string }) => e.field === 'extra').message).toMatch(/should not exist/);
  });

  it('a valid body reaches the controller with the caller tenant', async () => {
    const res = await post('/test-errors/items').send({ name: 'ok', parts: [{ units: 3 }] }).expect(201);
    expect(res.body).toEqual({ name: 'ok', tenant_id: session.tenantId });
  });

  it('an unknown route is a 404 problem', async () => {
    const res = await request(gw.url).get('/no/such/route').set(session.headers);
    expect(res.status).toBe(404);
    expect(res.headers['content-type']).toMatch(PROBLEM);
    expect(res.body).toMatchObject({ status: 404, code: 'not_found', detail: 'No route matches GET /no/such/route.' });
  });

  it('a domain error keeps its status, code and detail', async () => {
    const res = await request(gw.url).get('/test-errors/conflict').set(session.headers).expect(409);
    expect(res.body).toEqual({ status: 409, code: 'conflict', title: 'Conflict', detail: 'The job has already finished.', request_id: res.headers['x-request-id'] });
  });

  it('an unexpected error is a 500 that shows only an error id', async () => {
    const res = await request(gw.url).get('/test-errors/boom').set(session.headers).expect(500);
    expect(res.headers['content-type']).toMatch(PROBLEM);
    expect(Object.keys(res.body).sort()).toEqual(['code', 'detail', 'error_id', 'request_id', 'status', 'title']);
    expect(res.body.code).toBe('internal_error');
    expect(res.body.detail).toContain(res.body.error_id);
    expect(res.text).not.toMatch(/secret|\/srv|\.ts\b|\bat \S+:\d+/);
    // The log has what the answer hides, under the same id.
    const entry = loggedErrors.find((line) => line.includes(res.body.error_id));
    expect(entry).toContain('secret internal detail at /srv/app/secret.ts');
    expect(entry).toContain('ErrorsTestController.boom');
    expect(entry).toContain(`request_id=${res.body.request_id}`);
  });

  describe('X-Request-Id', () => {
    it('echoes a sane client id on success and on errors', async () => {
      const ok = await request(gw.url).get('/health/live').set('X-Request-Id', 'client-id_42.a:b').expect(200);
      expect(ok.headers['x-request-id']).toBe('client-id_42.a:b');
      const err = await request(gw.url).get('/nowhere').set('X-Request-Id', 'trace-7');
      expect(err.headers['x-request-id']).toBe('trace-7');
      expect(err.body.request_id).toBe('trace-7');
    });

    it('replaces an id that is not a plain short token', async () => {
      for (const bad of ['has space', 'x'.repeat(200), 'semi;colon']) {
        const res = await request(gw.url).get('/health/live').set('X-Request-Id', bad).expect(200);
        expect(res.headers['x-request-id']).toMatch(/^[0-9a-f-]{36}$/);
      }
    });

    it('gives every response a fresh id when none is sent', async () => {
      const a = await request(gw.url).get('/').expect(200);
      const b = await request(gw.url).get('/test-errors/items');
      expect(b.status).toBe(401);
      expect(a.headers['x-request-id']).toMatch(/^[0-9a-f-]{36}$/);
      expect(b.headers['x-request-id']).toMatch(/^[0-9a-f-]{36}$/);
      expect(a.headers['x-request-id']).not.toBe(b.headers['x-request-id']);
    });
  });

  it('collection routes answer with and without a trailing slash, without redirecting', async () => {
    for (const path of ['/test-errors/items', '/test-errors/items/', '/health', '/health/']) {
      const res = await request(gw.url).get(path).set(session.headers).redirects(0);
      expect([path, res.status]).toEqual([path, 200]);
    }
  });

  it('sets helmet headers and answers CORS for a configured origin only', async () => {
    const res = await request(gw.url).get('/').set('Origin', 'http://allowed.example').expect(200);
    expect(res.headers['x-content-type-options']).toBe('nosniff');
    expect(res.headers['x-powered-by']).toBeUndefined();
    expect(res.headers['access-control-allow-origin']).toBe('http://allowed.example');
    expect(res.headers['access-control-expose-headers']).toMatch(/X-Request-Id/);
    const other = await request(gw.url).get('/').set('Origin', 'http://evil.example').expect(200);
    expect(other.headers['access-control-allow-origin']).toBeUndefined();
    const preflight = await request(gw.url)
      .options('/test-errors/items')
      .set('Origin', 'http://allowed.example')
      .set('Access-Control-Request-Method', 'POST')
      .set('Access-Control-Request-Headers', 'x-api-key,content-type');
    expect(preflight.status).toBe(204);
    expect(preflight.headers['access-control-allow-headers']).toMatch(/X-API-Key/i);
  });
});
