import { fuzz } from './fuzz';

describe('fuzz: no exception escapes except DslError', () => {
  it('survives 3,000 random and mutated inputs', () => {
    const report = fuzz(3000, 20261128);
    expect(report.crashes.slice(0, 3)).toEqual([]);
    // The generator must exercise both paths, or the test proves nothing.
    expect(report.accepted).toBeGreaterThan(30);
    expect(report.rejected).toBeGreaterThan(1000);
  });
});
