/** `npm run fuzz:dsl [cases] [seed]`: the long fuzz run (100,000 cases by default); exits 1 on any crash. */
import { fuzz } from '../test/fuzz';

const cases = Number(process.argv[2] ?? 100_000);
const seed = Number(process.argv[3] ?? Date.now() % 2 ** 31);
const t0 = Date.now();
const report = fuzz(cases, seed);
const secs = (Date.now() - t0) / 1000;
console.log(`fuzz seed=${seed}: ${report.cases} cases in ${secs.toFixed(1)} s (${(report.cases / secs).toFixed(0)}/s), ${report.accepted} accepted, ${report.rejected} rejected with DslError, ${report.crashes.length} crashes`);
for (const c of report.crashes.slice(0, 5)) console.log(`--- crash on ${JSON.stringify(c.input).slice(0, 300)}\n${c.error}`);
process.exitCode = report.crashes.length ? 1 : 0;
