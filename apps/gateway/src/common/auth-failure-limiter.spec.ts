import { loadConfig } from '@app/config';
import { AuthFailureLimiter, clientKey } from './auth-failure-limiter';

describe('clientKey', () => {
  it('keeps an IPv4 address, and unwraps an IPv4-mapped IPv6 one in either notation', () => {
    expect(clientKey('203.0.113.7')).toBe('203.0.113.7');
    expect(clientKey('::ffff:203.0.113.7')).toBe('203.0.113.7');
    expect(clientKey('::FFFF:203.0.113.7')).toBe('203.0.113.7');
    expect(clientKey('::ffff:cb00:7107')).toBe('203.0.113.7');
  });

  it('collapses every IPv6 address of a /64, compressed or full, any case, to one key', () => {
    const forms = [
      '2001:db8:85a3:12::1',
      '2001:0db8:85a3:0012:0000:0000:0000:0001',
      '2001:DB8:85A3:12:FFFF:FFFF:FFFF:FFFF',
      '2001:db8:85a3:12:abcd::',
      '2001:db8:85a3:12::1%eth0',
    ];
    expect(new Set(forms.map(clientKey))).toEqual(new Set(['2001:db8:85a3:12::/64']));
    expect(clientKey('2001:db8::1')).toBe(clientKey('2001:0db8:0000:0000:1:2:3:4'));
  });

  it('keeps neighbouring /64s apart', () => {
    expect(clientKey('2001:db8:85a3:12::1')).not.toBe(clientKey('2001:db8:85a3:13::1'));
    expect(clientKey('2001:db8::1')).not.toBe(clientKey('2001:db9::1'));
  });
});

describe('AuthFailureLimiter (in memory)', () => {
  const limiter = () => new AuthFailureLimiter(loadConfig({ AUTH_FAILURE_LIMIT: '2', AUTH_FAILURE_PERIOD: '60' }), null);

  it('blocks an address past the limit for the rest of its window', async () => {
    const l = limiter();
    expect(await l.recordFailure('198.51.100.1')).toBe(0);
    expect(await l.recordFailure('198.51.100.1')).toBe(0);
    expect(l.blockedFor('198.51.100.1')).toBe(0);
    const blocked = await l.recordFailure('198.51.100.1');
    expect(blocked).toBeGreaterThan(0);
    expect(blocked).toBeLessThanOrEqual(60);
    expect(l.blockedFor('198.51.100.1')).toBe(blocked);
    expect(l.blockedFor('198.51.100.2')).toBe(0);
  });

  it('counts and blocks a whole IPv6 /64, not just the addresses that failed', async () => {
    const l = limiter();
    await l.recordFailure('2001:db8:1:2::a');
    await l.recordFailure('2001:db8:1:2::b');
    expect(await l.recordFailure('2001:db8:1:2::c')).toBeGreaterThan(0);
    // An address of the /64 that never failed is refused before its credentials are even checked.
    expect(l.blockedFor('2001:db8:1:2:ffff::1')).toBeGreaterThan(0);
    expect(l.blockedFor('2001:db8:1:3::1')).toBe(0);
  });
});
