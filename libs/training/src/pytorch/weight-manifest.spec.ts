import { analyze } from '@app/dsl';
import { kerasWeightOwners } from '@app/dsl/emit/weights';
import { torchWeightManifest } from './weight-manifest';

describe('torchWeightManifest', () => {
  it('names the torch module, layout kind, normalization flags and Keras shapes of every weight-owning layer', () => {
    const { checked } = analyze(`network M { input: (6, 4) layers:
      TimeDistributed(Dense(5)) Bidirectional(GRU(3, return_sequences=true)) BatchNormalization(center=false)
      TransformerEncoder(num_heads=2, ff_dim=8) TransformerEncoder(num_heads=2) { Dense(4, "relu") Dense(6) }
      ResidualConnection { Conv1D(6, 3, padding="same") } a: { LSTM(2) } b: { SimpleRNN(2) } Concatenate() Output(3) }`);
    const entries = torchWeightManifest(checked);
    expect(entries.map((e) => e.key)).toEqual(kerasWeightOwners(checked).map((o) => o.key));
    const byKey = Object.fromEntries(entries.map(({ key, ...rest }) => [key, rest]));
    expect(byKey.time_distributed_1).toEqual({ attr: 'time_distributed_1', kind: 'Dense', center: true, scale: true, shapes: [[4, 5], [5]] });
    expect(byKey.bidirectional_1).toEqual({ attr: 'bidirectional_1', kind: 'Bidirectional:GRU', center: true, scale: true, shapes: [[5, 9], [3, 9], [2, 9], [5, 9], [3, 9], [2, 9]] });
    expect(byKey.batch_normalization_1).toEqual({ attr: 'batch_normalization_1', kind: 'BatchNormalization', center: false, scale: true, shapes: [[6], [6], [6]] });
    expect(byKey.transformer_encoder_1_mha.kind).toBe('MultiHeadAttention');
    expect(byKey.transformer_encoder_1_mha.shapes).toEqual([[6, 2, 3], [2, 3], [6, 2, 3], [2, 3], [6, 2, 3], [2, 3], [2, 3, 6], [6]]);
    expect([byKey.transformer_encoder_1_ln1.kind, byKey.transformer_encoder_1_ffn1.kind, byKey.transformer_encoder_1_ffn2.kind, byKey.transformer_encoder_1_ln2.kind]).toEqual(['LayerNormalization', 'Dense', 'Dense', 'LayerNormalization']);
    // A block replaces the FFN: its own Dense layers own the weights, under their ids (dense_1 is the wrapped one).
    expect(byKey.transformer_encoder_2_ffn1).toBeUndefined();
    expect([byKey.dense_2.kind, byKey.dense_3.kind, byKey.conv1d_1.kind, byKey.lstm_1.kind, byKey.simple_rnn_1.kind]).toEqual(['Dense', 'Dense', 'Conv1D', 'LSTM', 'SimpleRNN']);
    expect(byKey.output_1.shapes).toEqual([[4, 3], [3]]);
  });
});
