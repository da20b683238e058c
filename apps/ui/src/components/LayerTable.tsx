type Shape = Array<number | null>;

/** A shape as Python prints it, `None` for the batch axis: `(None, 28, 28, 1)`; several inputs comma-separated. */
export function shapeText(shape: Shape | Shape[] | null | undefined): string {
  if (!shape) return '—';
  if (shape.length > 0 && Array.isArray(shape[0])) return (shape as Shape[]).map((s) => shapeText(s)).join(', ');
  const dims = (shape as Shape).map((d) => (d === null ? 'None' : String(d)));
  return dims.length === 1 ? `(${dims[0]},)` : `(${dims.join(', ')})`;
}

const count = (n: number | null | undefined) => (n === null || n === undefined ? '—' : n.toLocaleString('en-US'));

export interface LayerSummary {
  layers: Array<{ id: string; type: string; output_shape: Shape; params: number | null }>;
  total_params: number | null;
  trainable_params: number | null;
}

/** The summary's layers with output shapes and parameter counts, and the totals (playground and model page). */
export function LayerTable({ summary }: { summary: LayerSummary }) {
  return (
    <div className="table-wrap">
      <table aria-label="Layers">
        <thead>
          <tr>
            <th scope="col">ID</th>
            <th scope="col">Type</th>
            <th scope="col">Output shape</th>
            <th scope="col" className="num">
              Params
            </th>
          </tr>
        </thead>
        <tbody>
          {summary.layers.length === 0 && (
            <tr>
              <td colSpan={4} className="hint">
                No layers.
              </td>
            </tr>
          )}
          {summary.layers.map((l, i) => (
            <tr key={`${l.id}-${i}`}>
              <td>
                <code>{l.id}</code>
              </td>
              <td>{l.type}</td>
              <td>
                <code>{shapeText(l.output_shape)}</code>
              </td>
              <td className="num">{count(l.params)}</td>
            </tr>
          ))}
        </tbody>
        <tfoot>
          <tr>
            <th scope="row" colSpan={3}>
              Total ({count(summary.trainable_params)} trainable)
            </th>
            <td className="num">{count(summary.total_params)}</td>
          </tr>
        </tfoot>
      </table>
    </div>
  );
}
