/** A labelled select of `[value, text]` options (the filters and sort controls of the lists). */
export function Choice<T extends string>({ label, value, options, onChange }: { label: string; value: T; options: Array<readonly [T, string]>; onChange: (value: T) => void }) {
  return (
    <label className="inline">
      {label}
      <select value={value} onChange={(e) => onChange(e.target.value as T)}>
        {options.map(([v, text]) => (
          <option key={v} value={v}>
            {text}
          </option>
        ))}
      </select>
    </label>
  );
}

/** `[value, value]` options with an "All …" first. */
export function withAll<T extends string>(all: string, values: readonly T[]): Array<readonly [T | '', string]> {
  return [['', all], ...values.map((v) => [v, v] as const)];
}
