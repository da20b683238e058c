import { existsSync, readdirSync, readFileSync, writeFileSync } from 'fs';
import { join } from 'path';
import { DslError, formatDiagnostic } from '../src/diagnostics';
import { analyze } from '../src/index';
import { renderSummary } from '../src/report';

/**
 * Golden fixtures: every `.neural` under fixtures/{examples,ok,not-ok} has a `.golden` beside it holding what
 * `neural check` prints for it — the summary table, or the diagnostics. `UPDATE_GOLDEN=1` rewrites them (review the
 * diff before committing).
 */
const ROOT = join(__dirname, '..', 'fixtures');

function render(file: string, source: string): { ok: boolean; text: string } {
  try {
    const { checked, warnings } = analyze(source);
    return { ok: true, text: warnings.map((d) => formatDiagnostic(d, source, file) + '\n').join('') + renderSummary(checked.summary) };
  } catch (e) {
    if (!(e instanceof DslError)) throw e;
    return { ok: false, text: e.diagnostics.map((d) => formatDiagnostic(d, source, file) + '\n').join('') };
  }
}

for (const dir of ['examples', 'ok', 'not-ok']) {
  describe(`golden fixtures: ${dir}`, () => {
    const files = readdirSync(join(ROOT, dir)).filter((f) => f.endsWith('.neural'));
    it.each(files)('%s', (f) => {
      const source = readFileSync(join(ROOT, dir, f), 'utf8');
      const { ok, text } = render(f, source);
      if (dir === 'ok') expect(text).not.toContain(': error:');
      if (dir === 'not-ok') expect(ok).toBe(false);
      const golden = join(ROOT, dir, f.replace(/\.neural$/, '.golden'));
      if (process.env.UPDATE_GOLDEN || !existsSync(golden)) writeFileSync(golden, text);
      expect(text).toBe(readFileSync(golden, 'utf8'));
    });
  });
}
