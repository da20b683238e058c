/** Flattens a model output (nested arrays of its output_shape) into its numbers. */
export function flatten(value: unknown): number[] {
  if (typeof value === 'number') return [value];
  if (Array.isArray(value)) return value.flatMap(flatten);
  return [];
}

const pct = (p: number) => (p * 100).toFixed(1);

/**
 * Class probabilities of one prediction as bars: one list item per class with its label, a bar as wide as its
 * probability and the percentage. The predicted class is marked in text ("(predicted)"), in weight and colour, and
 * with aria-current. Outputs that are not probabilities (`kind` raw, or values outside [0, 1]) are listed as numbers.
 */
export function ClassBars({ values, predicted, kind, labels }: { values: number[]; predicted?: number | null; kind?: 'softmax' | 'sigmoid' | 'raw' | null; labels?: string[] }) {
  const probabilities = kind !== 'raw' && values.length > 0 && values.every((v) => Number.isFinite(v) && v >= 0 && v <= 1);
  if (!probabilities) {
    return (
      <div>
        <p className="hint">The model answers raw numbers (not probabilities):</p>
        <ol className="raw-outputs" aria-label="Raw outputs" start={0}>
          {values.map((v, i) => (
            <li key={i}>
              <span className="raw-index">output {i}</span> <code>{v}</code>
            </li>
          ))}
        </ol>
      </div>
    );
  }
  // A single sigmoid unit is a yes/no answer: class 1 with p, class 0 with 1 − p.
  const probs = values.length === 1 ? [1 - values[0], values[0]] : values;
  const best = predicted ?? probs.reduce((b, p, i) => (p > probs[b] ? i : b), 0);
  return (
    <ul className="class-bars" aria-label="Class probabilities">
      {probs.map((p, k) => {
        const isBest = k === best;
        return (
          <li key={k} aria-label={`class ${k}: ${pct(p)}%`} aria-current={isBest ? 'true' : undefined} className={isBest ? 'predicted' : undefined}>
            <span className="class-label">
              {labels?.[k] ?? `Class ${k}`}
              {isBest && <span className="predicted-tag"> (predicted)</span>}
            </span>
            <span className="bar" aria-hidden="true">
              <span style={{ width: `${Math.max(0, Math.min(100, p * 100))}%` }} />
            </span>
            <span className="class-pct">{pct(p)}%</span>
          </li>
        );
      })}
    </ul>
  );
}
