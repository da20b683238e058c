import { onnx } from 'onnx-proto';
import { OnnxModelError } from './serving.errors';

/** The one input and one output of a servable model; shapes include the batch dimension (null when symbolic). */
export interface OnnxSignature {
  inputName: string;
  inputShape: Array<number | null>;
  outputName: string;
  outputShape: Array<number | null>;
}

const FLOAT = 1;
const ELEM_TYPES: Record<number, string> = { 1: 'float32', 2: 'uint8', 3: 'int8', 5: 'int16', 6: 'int32', 7: 'int64', 9: 'bool', 10: 'float16', 11: 'float64' };

/**
 * Reads the input and output of a serialized ONNX model without loading ONNX Runtime. Throws OnnxModelError when the
 * bytes are not an ONNX model, or the graph does not have exactly one float32 tensor input and output.
 */
export function readOnnxSignature(model: Uint8Array): OnnxSignature {
  let proto: onnx.ModelProto;
  try {
    proto = onnx.ModelProto.decode(model);
  } catch (err) {
    throw new OnnxModelError(`the file is not an ONNX model (protobuf decoding failed: ${(err as Error).message}); upload the .onnx file exported for the model`);
  }
  const graph = proto.graph;
  // Protobuf decodes many random byte strings without error; a real model has a graph with nodes and an output.
  if (!graph || !graph.node?.length || !graph.output?.length) {
    throw new OnnxModelError('the file is not an ONNX model (no graph with nodes and outputs found); upload the .onnx file exported for the model');
  }
  // IR < 4 lists initializers among the inputs; they are weights, not feeds.
  const initializers = new Set((graph.initializer ?? []).map((t) => t.name));
  const inputs = (graph.input ?? []).filter((i) => !initializers.has(i.name ?? ''));
  if (inputs.length !== 1 || graph.output.length !== 1) {
    const names = (list: onnx.IValueInfoProto[]) => list.map((v) => v.name).join(', ') || 'none';
    throw new OnnxModelError(
      `the model must have exactly one input and one output to be served; it has ${inputs.length} input(s) (${names(inputs)}) and ${graph.output.length} output(s) (${names(graph.output)})`,
    );
  }
  const input = tensorInfo(inputs[0], 'input');
  const output = tensorInfo(graph.output[0], 'output');
  return { inputName: input.name, inputShape: input.shape, outputName: output.name, outputShape: output.shape };
}

function tensorInfo(value: onnx.IValueInfoProto, role: string): { name: string; shape: Array<number | null> } {
  const name = value.name ?? '';
  const tensor = value.type?.tensorType;
  if (!name || !tensor) throw new OnnxModelError(`the model's ${role} '${name}' is not a tensor; only tensor inputs and outputs can be served`);
  if (tensor.elemType !== FLOAT) {
    const type = ELEM_TYPES[tensor.elemType ?? 0] ?? `element type ${tensor.elemType}`;
    throw new OnnxModelError(`the model's ${role} '${name}' holds ${type}; only float32 inputs and outputs can be served`);
  }
  if (!tensor.shape) throw new OnnxModelError(`the model's ${role} '${name}' has no declared shape; export it with a fixed rank`);
  const shape = (tensor.shape.dim ?? []).map((d) => {
    if (d.dimValue === null || d.dimValue === undefined) return null;
    const n = Number(d.dimValue.toString());
    return Number.isSafeInteger(n) && n > 0 ? n : null;
  });
  if (shape.length === 0) throw new OnnxModelError(`the model's ${role} '${name}' is a scalar; it needs a batch dimension`);
  return { name, shape };
}
