import { isLayer, type CheckedModel, type LayerNode, type ModelNode } from '@app/dsl';
import { pyIdent } from '@app/dsl/emit/python';
import { kerasWeightOwners, TRANSFORMER_TYPES, transformerParts } from '@app/dsl/emit/weights';

/** How the driver turns one torch module's parameters into a Keras layer's weight list. */
export interface TorchWeightEntry {
  /** The Keras layer name (a key of `KerasWeights`). */
  key: string;
  /** The attribute of the generated `nn.Module` holding its parameters. */
  attr: string;
  /** The DSL layer type whose layout applies: `Dense`, `Conv2D`, `LSTM`, `Bidirectional:GRU`, `MultiHeadAttention`, ... */
  kind: string;
  /** Normalization layers: whether Keras has a beta (center) and a gamma (scale). */
  center: boolean;
  scale: boolean;
  /** The Keras weight shapes, in Keras order. */
  shapes: number[][];
}

/**
 * For every weight-owning Keras layer of the model, in `kerasWeightOwners` order, where the PyTorch emitter put its
 * parameters and which layout conversion they need. This is what `torch_train.py --weights-manifest` reads to export
 * the trained weights in the Keras layout. The emitter names each module after the layer id, a TimeDistributed layer's
 * module after the wrapper, and a transformer block's parts `<id>_mha`, `<id>_ln1`, `<id>_ffn1`, `<id>_ffn2`, `<id>_ln2`.
 */
export function torchWeightManifest(checked: CheckedModel): TorchWeightEntry[] {
  const kinds = new Map<string, { kind: string; center: boolean; scale: boolean }>();
  const visit = (nodes: ModelNode[]): void => {
    for (const node of nodes) {
      if (node.kind === 'branch') {
        visit(node.body);
        continue;
      }
      if (TRANSFORMER_TYPES.has(node.type)) {
        const parts = transformerParts(node.id);
        for (const [key, kind] of [[parts.mha, 'MultiHeadAttention'], [parts.ln1, 'LayerNormalization'], [parts.ln2, 'LayerNormalization'], [parts.ffn1, 'Dense'], [parts.ffn2, 'Dense']]) {
          kinds.set(key, { kind, center: true, scale: true });
        }
      } else {
        const inner = innermost(node);
        kinds.set(node.id, { kind: kindOf(node), center: inner.params.center !== false, scale: inner.params.scale !== false });
      }
      visit(node.sublayers);
    }
  };
  visit(checked.model.layers);
  return kerasWeightOwners(checked).map((owner) => {
    const k = kinds.get(owner.key);
    if (!k) throw new Error(`internal: no layer kind for Keras layer '${owner.key}'`);
    return { key: owner.key, attr: pyIdent(owner.key), ...k, shapes: owner.weights.map((w) => [...w.shape]) };
  });
}

function wrapped(node: LayerNode): LayerNode | undefined {
  const inner = node.params.layer;
  return isLayer(inner) ? inner : undefined;
}

/** TimeDistributed applies its layer's own layout; Bidirectional doubles a recurrent layer's. */
function kindOf(node: LayerNode): string {
  const inner = wrapped(node);
  if (node.type === 'TimeDistributed' && inner) return kindOf(inner);
  if (node.type === 'Bidirectional' && inner) return `Bidirectional:${inner.type}`;
  return node.type;
}

function innermost(node: LayerNode): LayerNode {
  const inner = wrapped(node);
  return inner ? innermost(inner) : node;
}
