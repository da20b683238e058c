import { canonicalJson, requestFingerprint } from './request-fingerprint';

describe('requestFingerprint', () => {
  it('is the same for bodies that differ only in key order, and differs for any other change', () => {
    const body = { b: [1, { y: 2, x: 'é' }], a: null, c: { z: true } };
    const same = { c: { z: true }, a: null, b: [1, { x: 'é', y: 2 }] };
    expect(canonicalJson(body)).toBe('{"a":null,"b":[1,{"x":"é","y":2}],"c":{"z":true}}');
    expect(requestFingerprint('POST /jobs/train', body)).toBe(requestFingerprint('POST /jobs/train', same));
    expect(requestFingerprint('POST /jobs/train', body)).toMatch(/^[0-9a-f]{64}$/);
    const others = [{ ...body, b: [{ y: 2, x: 'é' }, 1] }, { ...body, a: 0 }, { ...body, d: 1 }, { b: body.b, c: body.c }];
    for (const other of others) expect(requestFingerprint('POST /jobs/train', other)).not.toBe(requestFingerprint('POST /jobs/train', body));
    expect(requestFingerprint('POST /compile', body)).not.toBe(requestFingerprint('POST /jobs/train', body));
  });

  it('treats a missing body as null', () => {
    expect(canonicalJson(undefined)).toBe('null');
    expect(requestFingerprint('POST /compile', undefined)).toBe(requestFingerprint('POST /compile', null));
  });
});
