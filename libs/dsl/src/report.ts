import type { ModelSummary } from './checked';

/** A shape as Python prints it: (None, 28, 28, 1). */
export function formatShape(shape: unknown): string {
  return JSON.stringify(shape).replace(/null/g, 'None').replace(/\[/g, '(').replace(/\]/g, ')').replace(/,/g, ', ');
}

/** A Keras-style summary table of a checked model (used by the CLI and the golden tests). */
export function renderSummary(s: ModelSummary): string {
  const lines = [`${s.name}: input ${formatShape(s.input_shape)} -> output ${formatShape(s.output_shape)}`];
  for (const l of s.layers) lines.push(`  ${l.id.padEnd(28)} ${l.type.padEnd(24)} ${formatShape(l.output_shape).padEnd(24)} ${l.params ?? '?'}`);
  lines.push(`total params: ${s.total_params ?? '?'} (trainable ${s.trainable_params ?? '?'})`);
  return lines.join('\n') + '\n';
}
