import { compile } from '@app/dsl';
import { onnx } from 'onnx-proto';
import { readOnnxSignature } from './onnx-signature';
import { OnnxModelError } from './serving.errors';

const onnxOf = (source: string) => compile(source, { backend: 'onnx', seed: 1 }).onnx!;

describe('readOnnxSignature', () => {
  it('reads the input and output of an emitted model, batch dimension symbolic', () => {
    const model = onnxOf(`network C { input: (28, 28, 1) layers: Conv2D(8, (3,3), "relu") Flatten() Output(10, "softmax") }`);
    expect(readOnnxSignature(model)).toEqual({ inputName: 'input', inputShape: [null, 28, 28, 1], outputName: 'output', outputShape: [null, 10] });
    const sequence = onnxOf(`network S { input: (None, None, 5) layers: Conv1D(4, 3, padding="same") }`);
    expect(readOnnxSignature(sequence)).toEqual({ inputName: 'input', inputShape: [null, null, 5], outputName: 'output', outputShape: [null, null, 4] });
  });

  it('does not count initializers listed among the inputs (IR < 4) as feeds', () => {
    const proto = onnx.ModelProto.decode(onnxOf(`network D { input: (4,) layers: Dense(2) }`));
    const graph = proto.graph as onnx.GraphProto;
    const weight = graph.initializer[0] as onnx.TensorProto;
    graph.input.push({ name: weight.name, type: { tensorType: { elemType: 1, shape: { dim: weight.dims.map((d) => ({ dimValue: d })) } } } });
    expect(readOnnxSignature(onnx.ModelProto.encode(proto).finish())).toMatchObject({ inputName: 'input', inputShape: [null, 4] });
  });

  it.each([
    ['garbage', Buffer.from('definitely not a model'), /^the file is not an ONNX model \(protobuf decoding failed: .+\); upload the \.onnx file exported for the model$/],
    ['empty bytes', new Uint8Array(0), /^the file is not an ONNX model \(no graph with nodes and outputs found\)/],
  ])('refuses %s', (_, bytes, message) => {
    expect(() => readOnnxSignature(bytes)).toThrow(OnnxModelError);
    expect(() => readOnnxSignature(bytes)).toThrow(message);
  });

  it('refuses models with more than one input', () => {
    const model = onnxOf(`network M { input: { image: (8, 8, 1), meta: (4,) } layers: image: { Conv2D(2, (3,3)) Flatten() } meta: { Dense(8) } Concatenate() Dense(2) }`);
    expect(() => readOnnxSignature(model)).toThrow(
      new OnnxModelError('the model must have exactly one input and one output to be served; it has 2 input(s) (image, meta) and 1 output(s) (output)'),
    );
  });

  it('refuses non-float inputs and outputs', () => {
    const proto = onnx.ModelProto.decode(onnxOf(`network D { input: (4,) layers: Dense(2) }`));
    (proto.graph as onnx.GraphProto).input[0].type!.tensorType!.elemType = 7;
    expect(() => readOnnxSignature(onnx.ModelProto.encode(proto).finish())).toThrow("the model's input 'input' holds int64; only float32 inputs and outputs can be served");
  });
});
