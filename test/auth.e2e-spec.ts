import { DEMO_API_KEY } from '@app/config';
import { ApiKeysRepository } from '@app/persistence';
import { Controller, Get, Module } from '@nestjs/common';
import { JwtService } from '@nestjs/jwt';
import request from 'supertest';
import { CurrentTenant, type TenantContext } from '../apps/gateway/src/auth/auth.decorators';
import { createTempDir, createTenantSession, startGateway, type TenantSession, type TestGateway } from '@app/testing';

@Controller('test-auth')
class WhoAmIController {
  @Get('whoami')
  whoami(@CurrentTenant() tenant: TenantContext) {
    return tenant;
  }
}

@Module({ controllers: [WhoAmIController] })
class WhoAmIModule {}

const PROBLEM = /^application\/problem\+json/;

function expectUnauthorized(res: request.Response, detail: RegExp): void {
  expect(res.status).toBe(401);
  expect(res.headers['content-type']).toMatch(PROBLEM);
  expect(res.headers['www-authenticate']).toBe('ApiKey header="X-API-Key", Bearer realm="neural-dsl"');
  expect(res.body).toMatchObject({ status: 401, code: 'unauthorized', title: 'Unauthorized' });
  expect(res.body.detail).toMatch(detail);
  expect(res.body.request_id).toBe(res.headers['x-request-id']);
}

describe('authentication (embedded gateway, real HTTP)', () => {
  let gw: TestGateway;
  let alice: TenantSession;
  let bob: TenantSession;

  beforeAll(async () => {
    gw = await startGateway({ imports: [WhoAmIModule], env: { JWT_EXPIRES_IN: '600' } });
    alice = await createTenantSession(gw, 'alice');
    bob = await createTenantSession(gw, 'bob');
  });
  afterAll(() => gw?.close());

  const whoami = () => request(gw.url).get('/test-auth/whoami');

  it('an API key identifies its own tenant', async () => {
    const a = await whoami().set('X-API-Key', alice.apiKey).expect(200);
    expect(a.body).toEqual({ tenantId: alice.tenantId, apiKeyId: alice.apiKeyId, isAdmin: false });
    const b = await whoami().set('x-api-key', bob.apiKey).expect(200);
    expect(b.body).toEqual({ tenantId: bob.tenantId, apiKeyId: bob.apiKeyId, isAdmin: false });
  });

  it('no credentials: 401 with WWW-Authenticate', async () => {
    expectUnauthorized(await whoami(), /Authentication required/);
  });

  it('an unknown key: 401', async () => {
    expectUnauthorized(await whoami().set('X-API-Key', 'nk_not-a-real-key'), /API key is not valid/);
    expectUnauthorized(await whoami().set('X-API-Key', alice.apiKey.slice(0, -1)), /API key is not valid/);
  });

  it('a revoked key: 401 from the next request on', async () => {
    const carol = await createTenantSession(gw, 'carol');
    await whoami().set(carol.headers).expect(200);
    expect(await gw.get(ApiKeysRepository).revoke(carol.tenantId, carol.apiKeyId)).toMatchObject({ id: carol.apiKeyId });
    expectUnauthorized(await whoami().set(carol.headers), /revoked/);
  });

  it('the demo key works outside production', async () => {
    const res = await whoami().set('X-API-Key', DEMO_API_KEY).expect(200);
    expect(res.body.tenantId).toMatch(/^[0-9a-f-]{36}$/);
  });

  describe('bearer tokens', () => {
    it('POST /auth/token exchanges an API key for a token that authenticates as the same key', async () => {
      const res = await request(gw.url).post('/auth/token').set(alice.headers).expect(200);
      expect(res.body).toEqual({ access_token: expect.any(String), token_type: 'bearer', expires_in: 600, scopes: ['read', 'write', 'predict'] });
      const me = await whoami().set('Authorization', `Bearer ${res.body.access_token}`).expect(200);
      expect(me.body).toEqual({ tenantId: alice.tenantId, apiKeyId: alice.apiKeyId, isAdmin: false });
      const claims = gw.get(JwtService).decode(res.body.access_token);
      expect(claims).toMatchObject({ sub: alice.apiKeyId, tid: alice.tenantId, scp: ['read', 'write', 'predict'], iss: 'neural-dsl-platform' });
      expect(claims.exp - claims.iat).toBe(600);
    });

    it('POST /auth/token refuses a missing or bad key, and a bearer token (no endless refresh)', async () => {
      expectUnauthorized(await request(gw.url).post('/auth/token'), /takes an API key/);
      expectUnauthorized(await request(gw.url).post('/auth/token').set('X-API-Key', 'nope'), /API key is not valid/);
      const { body } = await request(gw.url).post('/auth/token').set(alice.headers).expect(200);
      expectUnauthorized(await request(gw.url).post('/auth/token').set('Authorization', `Bearer ${body.access_token}`), /takes an API key/);
    });

    it("revoking a key ends its tokens at once", async () => {
      const dave = await createTenantSession(gw, 'dave');
      const { body } = await request(gw.url).post('/auth/token').set(dave.headers).expect(200);
      await whoami().set('Authorization', `Bearer ${body.access_token}`).expect(200);
      await request(gw.url).delete(`/auth/keys/${dave.apiKeyId}`).set(dave.headers).expect(204);
      expectUnauthorized(await whoami().set('Authorization', `Bearer ${body.access_token}`), /its key was revoked/);
    });

    it("a token naming a key of another tenant than its own claims: 401", async () => {
      const mixed = gw.get(JwtService).sign({ sub: alice.apiKeyId, tid: bob.tenantId, scp: ['read'] });
      expectUnauthorized(await whoami().set('Authorization', `Bearer ${mixed}`), /bearer token is not valid/);
    });

    it('a malformed, forged, expired or foreign token: 401', async () => {
      expectUnauthorized(await whoami().set('Authorization', 'Bearer not.a.jwt'), /bearer token is not valid/);
      const forged = new JwtService({ secret: 'some-other-secret-of-16+chars' }).sign({ sub: alice.apiKeyId, tid: alice.tenantId }, { issuer: 'neural-dsl-platform' });
      expectUnauthorized(await whoami().set('Authorization', `Bearer ${forged}`), /bearer token is not valid/);
      const jwt = gw.get(JwtService);
      const expired = jwt.sign({ sub: alice.apiKeyId, tid: alice.tenantId, iat: Math.floor(Date.now() / 1000) - 100 }, { expiresIn: 10 });
      expectUnauthorized(await whoami().set('Authorization', `Bearer ${expired}`), /bearer token is not valid/);
      const otherIssuer = jwt.sign({ sub: alice.apiKeyId, tid: alice.tenantId }, { issuer: 'someone-else' });
      expectUnauthorized(await whoami().set('Authorization', `Bearer ${otherIssuer}`), /bearer token is not valid/);
      const noClaims = jwt.sign({ hello: 'world' });
      expectUnauthorized(await whoami().set('Authorization', `Bearer ${noClaims}`), /bearer token is not valid/);
      expectUnauthorized(await whoami().set('Authorization', 'Basic dXNlcjpwYXNz'), /Authentication required/);
    });
  });

  it('public routes need no credentials', async () => {
    for (const path of ['/', '/health', '/health/live', '/health/ready', '/openapi.json', '/docs', '/redoc']) {
      const res = await request(gw.url).get(path);
      expect([path, res.status]).toEqual([path, 200]);
    }
  });
});

describe('the demo key in production', () => {
  it('is refused even when a development run left it in the database', async () => {
    const dir = await createTempDir();
    try {
      const dev = await startGateway({ storagePath: dir.path });
      await request(dev.url).post('/auth/token').set('X-API-Key', DEMO_API_KEY).expect(200);
      await dev.close();
      const prod = await startGateway({ storagePath: dir.path, env: { NODE_ENV: 'production', SECRET_KEY: 'a-production-secret-0123456789' } });
      try {
        expect(prod.config.auth.demoKeyEnabled).toBe(false);
        expectUnauthorized(await request(prod.url).post('/auth/token').set('X-API-Key', DEMO_API_KEY), /API key is not valid/);
      } finally {
        await prod.close();
      }
    } finally {
      await dir.remove();
    }
  });
});
