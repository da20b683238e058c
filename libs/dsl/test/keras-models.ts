import { readdirSync, readFileSync } from 'fs';
import { join } from 'path';
import { check } from '../src/check';
import type { CheckedModel } from '../src/checked';
import { DslError } from '../src/diagnostics';
import { resolveHpo } from '../src/hpo';
import { lowerToKeras } from '../src/emit/keras';
import { parseModel } from '../src/parser';

const net = (name: string, input: string, layers: string, rest: string) => `network ${name} {\n  input: ${input}\n  layers:\n    ${layers}\n  ${rest}\n}\n`;

/**
 * DSL models that together use every layer type, activation, merge, optimizer, schedule and loss the Keras lowering
 * supports; shared by the tfjs builder and TensorFlow emitter specs.
 */
export const KERAS_MODELS: Record<string, string> = {
  convnet: net(
    'ConvNet',
    '(28, 28, 1)',
    'Conv2D(8, (3,3), "relu") MaxPooling2D((2,2)) Conv2D(16, 3, padding="same", strides=2) BatchNormalization(momentum=0.9) Flatten() Dense(32, "relu") Dropout(0.5) Output(10)',
    'loss: sparse_categorical_crossentropy optimizer: Adam(learning_rate=ExponentialDecay(0.01, 100, 0.9), beta_1=0.85, amsgrad=true) metrics: ["accuracy", "precision", "recall"] train { epochs: 3, batch_size: 16, validation_split: 0.1 }',
  ),
  conv1d: net(
    'Conv1DNet',
    '(100, 8)',
    'Conv1D(16, 3, padding="same", strides=2, activation="relu") MaxPooling1D(2) AveragePooling1D(2, padding="same") Conv1D(8, 3, dilation_rate=2) SpatialDropout1D(0.1) GlobalMaxPooling1D() Output(3, "linear")',
    'loss: mse optimizer: SGD(learning_rate=0.1, momentum=0.9, nesterov=true) lr_schedule: StepDecay(0.1, 10, 0.5) metrics: [mae, rmse]',
  ),
  conv3d: net(
    'Conv3DNet',
    '(8, 8, 8, 2)',
    'Conv3D(4, 3, activation="relu") MaxPooling3D(2) AveragePooling3D(1) Conv3D(4, 1) SpatialDropout3D(0.1) GlobalAveragePooling3D() Output(3)',
    'loss: categorical_crossentropy optimizer: RMSprop(learning_rate=0.001, rho=0.8, centered=true) metrics: [categorical_accuracy]',
  ),
  globalmax3d: net('GlobalMax3D', '(4, 4, 4, 2)', 'GlobalMaxPooling3D() Output(3)', 'loss: categorical_cross_entropy optimizer: Adadelta(learning_rate=1.0, rho=0.9)'),
  conv2dzoo: net(
    'Conv2DZoo',
    '(16, 16, 3)',
    'Conv2D(8, (3,3), padding="same", strides=(2,2), use_bias=false) BatchNormalization(center=false) Conv2DTranspose(6, (3,3), strides=(2,2), padding="same") SeparableConv2D(8, (3,3), depth_multiplier=2) DepthwiseConv2D((3,3), depth_multiplier=2, padding="same") SpatialDropout2D(0.2) GroupNormalization(4) InstanceNormalization() LayerNormalization(epsilon=0.01) AveragePooling2D((2,2), padding="same") Activation("leaky_relu", 0.1) Activation("elu") Activation("selu") GaussianNoise(0.1) GlobalAveragePooling2D() Output(5, "linear")',
    'loss: sparse_categorical_crossentropy optimizer: Adagrad(learning_rate=CosineDecay(0.1, 1000), epsilon=1e-6) metrics: [sparse_categorical_accuracy, top_k_accuracy]',
  ),
  recurrent: net(
    'Recurrent',
    '(20,)',
    'Embedding(1000, 32, mask_zero=false) LSTM(16, return_sequences=true) GRU(8, return_sequences=true, activation="relu") SimpleRNN(8, return_sequences=true) Bidirectional(GRU(4, return_sequences=true)) Bidirectional(LSTM(4), merge_mode="sum") Output(1, "sigmoid")',
    'loss: binary_crossentropy optimizer: Nadam(learning_rate=0.002) metrics: [accuracy, auc]',
  ),
  cells: net('Cells', '(10, 4)', 'GRU(8, return_sequences=true, use_bias=false) SimpleRNNDropoutWrapper(6, dropout=0.2) Output(2)', 'loss: huber optimizer: Adamax(learning_rate=InverseTimeDecay(0.01, 10, 0.5))'),
  lstmcell: net('LstmCell', '(10, 4)', 'LSTMCell(8) Output(2, "softmax")', 'loss: kl_divergence optimizer: Adam()'),
  grucell: net('GruCell', '(10, 4)', 'GRUCell(5, activation="sigmoid") Output(2)', 'loss: nll optimizer: SGD()'),
  timedistributed: net(
    'Frames',
    '(5, 8, 8, 3)',
    'TimeDistributed(Conv2D(4, (3,3))) TimeDistributed(MaxPooling2D(2)) TimeDistributed(Flatten()) TimeDistributed(Dense(8, "relu")) Bidirectional(SimpleRNN(4)) Output(2)',
    'loss: cross_entropy optimizer: Adam(learning_rate=1e-3)',
  ),
  transformer: net(
    'Transformers',
    '(10, 16)',
    'TransformerEncoder(num_heads=4, ff_dim=32) TransformerDecoder(num_heads=2, ff_dim=8, dropout=0.2) Transformer(num_heads=2) { Dense(32, "relu") Dense(16) } MultiHeadAttention(2, 8, dropout=0.1) Attention(use_scale=true, causal=true) Attention() GlobalAveragePooling1D() Output(4)',
    'loss: sparse_categorical_cross_entropy optimizer: AdamW(learning_rate=PolynomialDecay(0.001, 100), weight_decay=0.01, clipnorm=1.0) metrics: [accuracy] train { epochs: 2, batch_size: 8, mixed_precision: true, gradient_clip: 0.5 }',
  ),
  merges: `network Merges {
  input: { a: (16,), b: (16,) }
  layers:
    a: { Dense(8, "relu") }
    b: { Dense(8) }
    Concatenate()
    Dense(16)
    skip: { Dense(16) }
    Add()
    ResidualConnection { Dense(16, "relu") Dense(16) }
    s: { Dense(16) }
    Subtract()
    m: { Dense(16) }
    Multiply()
    v: { Dense(16) }
    Average()
    mx: { Dense(16) }
    Maximum()
    mn: { Dense(16) }
    Minimum()
    d: { Dense(16) }
    Dot(axes=1, normalize=true)
    Output(1, "linear")
  loss: mse
  optimizer: Ftrl(learning_rate=0.01, l1_regularization_strength=0.001)
  metrics: [mse, mean_absolute_error]
}
`,
  reshape: net('Reshaped', '(784,)', 'Reshape((28, 28, 1)) Conv2D(4, 3) Reshape((-1, 4)) Conv1D(4, 3) Flatten() Output(10)', 'loss: sparse_categorical_crossentropy optimizer: "adam"'),
  activations: net(
    'Activations',
    '(8,)',
    'Dense(8, "relu") Dense(8, "sigmoid") Dense(8, "tanh") Dense(8, "softplus") Dense(8, "softsign") Dense(8, "selu") Dense(8, "elu") Dense(8, "exponential") Dense(8, "linear") Dense(8, "leaky_relu") Dense(8, "swish") Dense(8, "gelu") Dense(8, "silu") Dense(8, "mish") Dense(8, "hard_sigmoid") Activation("mish") Activation("silu") Activation("softmax") Output(3, "softmax")',
    'loss: log_cosh',
  ),
  variable_length: net(
    'VariableLength',
    '(None, None, 5)',
    'Conv1D(4, 3, padding="same") LSTM(6, return_sequences=true) TimeDistributed(Dense(4)) TransformerDecoder(num_heads=2, ff_dim=4) Attention(causal=true) GlobalAveragePooling1D() Dense(2)',
    'loss: mae optimizer: Adam(learning_rate=0.01)',
  ),
  losses: net('Losses', '(6,)', 'Dense(4, "relu", use_bias=false) Output(2, "softplus")', 'loss: poisson optimizer: Adam(learning_rate=0.01, epsilon=1e-8)'),
};

/**
 * Every fixture and example that the front end and the Keras lowering accept (examples with opaque layers do not),
 * with its hyperparameters set to their defaults.
 */
export function fixtureModels(): { name: string; checked: CheckedModel }[] {
  const out: { name: string; checked: CheckedModel }[] = [];
  for (const dir of ['ok', 'examples']) {
    const root = join(__dirname, '..', 'fixtures', dir);
    for (const file of readdirSync(root).filter((f) => f.endsWith('.neural')).sort()) {
      try {
        const checked = check(resolveHpo(parseModel(readFileSync(join(root, file), 'utf8'))).model);
        lowerToKeras(checked);
        out.push({ name: `${dir}/${file}`, checked });
      } catch (e) {
        if (!(e instanceof DslError)) throw e;
      }
    }
  }
  return out;
}

export function checkedModel(source: string): CheckedModel {
  return check(parseModel(source));
}
