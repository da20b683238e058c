import type { SearchSite } from './search';
import type { Diagnostic } from './diagnostics';
import type { ModelIR, Shape, SourceLoc } from './ir';

/** Framework whose parameter-counting convention to follow (they differ for LSTM/SimpleRNN biases and BN stats). */
export type ParamFlavor = 'keras' | 'torch';

/**
 * What the checker learned about one node (layers, branches, inserted Flattens, sublayers, wrapped layers), keyed
 * by node id. A count is `null` when it is unknown: it depends on a hyperparameter, or the layer is opaque/custom.
 * A node's counts include its sublayers and wrapped layer (Bidirectional counts both directions); a branch (type
 * `Branch`) counts its body.
 */
export interface LayerInfo {
  id: string;
  type: string;
  /** Shapes flowing in (one for most layers; one per merged tensor for merge layers). Batch axis first, `null`. */
  inputShapes: Shape[];
  outputShape: Shape;
  /** Parameters as Keras counts them (`model.count_params()`), including non-trainable (BatchNorm moving stats). */
  params: number | null;
  /** Trainable parameters as Keras counts them. */
  trainableParams: number | null;
  /** `sum(p.numel() for p in module.parameters())` of the equivalent PyTorch module. */
  torchParams: number | null;
  loc: SourceLoc;
}

export interface LayerSummary {
  id: string;
  type: string;
  output_shape: Shape;
  params: number | null;
}

/** The API's `summary` object. Totals are `null` when some layer's count is unknown. */
export interface ModelSummary {
  name: string;
  input_shape: Shape | Shape[];
  output_shape: Shape;
  layers: LayerSummary[];
  total_params: number | null;
  trainable_params: number | null;
  /**
   * Every HPO(...) site of the source, searched by POST /jobs/hpo; compile and a plain training use each site's
   * `default`. Set by compile and prepareTraining (the checker sees the model after substitution).
   */
  search_space?: SearchSite[];
}

export interface CheckedModel {
  /** The model as analysed: identical to the parsed IR except for Flatten layers inserted by auto-flatten. */
  model: ModelIR;
  /** Per node id (top-level nodes, branch bodies, sublayers, wrapped layers, inserted Flattens). */
  info: Map<string, LayerInfo>;
  outputShape: Shape;
  summary: ModelSummary;
  /** The checker's warnings (errors are thrown as DslError). */
  warnings: Diagnostic[];
}

export interface CheckOptions {
  /**
   * Insert a Flatten before a Dense/Output that receives an image tensor (rank >= 4 with the batch), with a warning.
   * Default true. When false, Dense acts on the last axis (as in Keras) and a warning says so.
   */
  autoFlatten?: boolean;
}
