import { useMemo } from 'react';
import { LineChart, type Series } from './Chart';

export type HistoryRow = Record<string, number>;

/** A value for a table cell: numbers to 4 significant digits, objects as JSON, nothing as an em dash. */
export function fmt(v: unknown): string {
  if (v === null || v === undefined || v === '') return '—';
  if (typeof v === 'number') {
    if (!Number.isFinite(v)) return String(v);
    if (Number.isInteger(v)) return String(v);
    const a = Math.abs(v);
    return a !== 0 && (a < 1e-3 || a >= 1e6) ? v.toExponential(3) : String(Number(v.toPrecision(4)));
  }
  if (typeof v === 'object') return JSON.stringify(v);
  return String(v);
}

export function fmtDate(s: string | null | undefined): string {
  if (!s) return '—';
  const d = new Date(s);
  return Number.isNaN(d.getTime()) ? s : d.toLocaleString();
}

export function shortId(id: string | null | undefined): string {
  return id ? id.slice(0, 8) : '—';
}

/** The epoch of a history row: its `epoch` field, else its 1-based place. */
export function epochOf(row: HistoryRow, i: number): number {
  return typeof row.epoch === 'number' ? row.epoch : i + 1;
}

/** Rows of `base` plus `extra` rows whose epoch is not there yet, ordered by epoch. */
export function mergeHistory(base: HistoryRow[], extra: HistoryRow[]): HistoryRow[] {
  const byEpoch = new Map<number, HistoryRow>();
  base.forEach((r, i) => byEpoch.set(epochOf(r, i), { ...r, epoch: epochOf(r, i) }));
  for (const r of extra) if (!byEpoch.has(r.epoch)) byEpoch.set(r.epoch, r);
  return [...byEpoch.values()].sort((a, b) => a.epoch - b.epoch);
}

const LOSS_KEYS = ['loss', 'val_loss'];
const ACC_KEYS = ['accuracy', 'val_accuracy'];

function seriesOf(rows: HistoryRow[], keys: string[]): Series[] {
  return keys.filter((k) => rows.some((r) => typeof r[k] === 'number')).map((k) => ({ label: k, values: rows.map((r) => (typeof r[k] === 'number' ? r[k] : null)) }));
}

/** The "Loss" and "Accuracy" charts of one run's history; they grow as rows are appended. */
export function ExperimentCurves({ history }: { history: HistoryRow[] }) {
  const x = useMemo(() => history.map((r, i) => epochOf(r, i)), [history]);
  const loss = useMemo(() => {
    const s = seriesOf(history, LOSS_KEYS);
    return s.length ? s : [{ label: 'loss', values: history.map(() => null) }];
  }, [history]);
  const acc = useMemo(() => seriesOf(history, ACC_KEYS), [history]);
  const showAcc = acc.length > 0 || history.length === 0;
  const accSeries = useMemo(() => (acc.length ? acc : [{ label: 'accuracy', values: history.map(() => null) }]), [acc, history]);
  return (
    <div className="grid2">
      <section className="card" aria-labelledby="curve-loss">
        <h2 id="curve-loss">Loss</h2>
        <LineChart label="Loss" x={x} series={loss} />
        {history.length === 0 && <p className="hint">Curves appear after the first epoch.</p>}
      </section>
      {showAcc && (
        <section className="card" aria-labelledby="curve-acc">
          <h2 id="curve-acc">Accuracy</h2>
          <LineChart label="Accuracy" x={x} series={accSeries} />
        </section>
      )}
    </div>
  );
}

/** Metrics side by side: one row per metric, one column per set (final, best, test, …). */
export function MetricsTable({ label, sets }: { label: string; sets: Array<[string, Record<string, unknown> | null | undefined]> }) {
  const present = sets.filter(([, m]) => m && Object.keys(m).length);
  const keys = [...new Set(present.flatMap(([, m]) => Object.keys(m!)))].sort();
  if (!keys.length) return <p className="hint">No metrics yet.</p>;
  return (
    <div className="table-wrap">
      <table aria-label={label}>
        <thead>
          <tr>
            <th scope="col">Metric</th>
            {present.map(([name]) => (
              <th key={name} scope="col" className="num">
                {name}
              </th>
            ))}
          </tr>
        </thead>
        <tbody>
          {keys.map((k) => (
            <tr key={k}>
              <th scope="row">{k}</th>
              {present.map(([name, m]) => (
                <td key={name} className="num">
                  {fmt(m![k])}
                </td>
              ))}
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}

/** Every epoch's numbers, for reading what the charts draw. */
export function HistoryTable({ history }: { history: HistoryRow[] }) {
  if (!history.length) return null;
  const keys = [...new Set(history.flatMap((r) => Object.keys(r)))].filter((k) => k !== 'epoch');
  return (
    <details className="card">
      <summary>Epoch history ({history.length} epochs)</summary>
      <div className="table-wrap">
        <table aria-label="Epoch history">
          <thead>
            <tr>
              <th scope="col" className="num">
                epoch
              </th>
              {keys.map((k) => (
                <th key={k} scope="col" className="num">
                  {k}
                </th>
              ))}
            </tr>
          </thead>
          <tbody>
            {history.map((r, i) => (
              <tr key={epochOf(r, i)}>
                <td className="num">{epochOf(r, i)}</td>
                {keys.map((k) => (
                  <td key={k} className="num">
                    {fmt(r[k])}
                  </td>
                ))}
              </tr>
            ))}
          </tbody>
        </table>
      </div>
    </details>
  );
}

/** A progress bar people and screen readers can read. */
export function JobsProgress({ value, label }: { value: number; label: string }) {
  const v = Math.max(0, Math.min(100, Math.round(value || 0)));
  return (
    <div className="progress-line">
      <div className="progress" role="progressbar" aria-label={label} aria-valuemin={0} aria-valuemax={100} aria-valuenow={v}>
        <span style={{ width: `${v}%` }} />
      </div>
      <span className="hint">{v}%</span>
    </div>
  );
}
