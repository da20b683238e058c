/**
 * Trained models in the standard tfjs layers format (`model.json` + `weights.bin`), in memory: file:// handlers need
 * tfjs-node, and the caller's storage decides where the bytes go.
 */
import type * as Tfjs from '@tensorflow/tfjs';
import { registerTfjsCustomClasses } from '../emit/tfjs';

type Tf = typeof Tfjs;

export interface SavedTfjsModel {
  /** model.json: `modelTopology`, `format: 'layers-model'`, `generatedBy`, `convertedBy`, `weightsManifest`. */
  modelJson: string;
  /** The contents of `weights.bin`, the single file `weightsManifest` names. */
  weights: Uint8Array;
}

/** Serialises `model` as tfjs' `model.save` would write it to a directory, with one weights file `weights.bin`. */
export async function saveTfjsModel(tf: Tf, model: Tfjs.LayersModel): Promise<SavedTfjsModel> {
  let artifacts: Tfjs.io.ModelArtifacts | undefined;
  await model.save(
    tf.io.withSaveHandler(async (a) => {
      artifacts = a;
      return { modelArtifactsInfo: tf.io.getModelArtifactsInfoForJSON(a) };
    }),
  );
  if (!artifacts) throw new Error('internal: tfjs did not hand over the model artifacts');
  const json = {
    modelTopology: artifacts.modelTopology,
    format: 'layers-model',
    generatedBy: artifacts.generatedBy,
    convertedBy: artifacts.convertedBy ?? null,
    weightsManifest: [{ paths: ['weights.bin'], weights: artifacts.weightSpecs ?? [] }],
  };
  return { modelJson: JSON.stringify(json), weights: joinWeights(artifacts.weightData) };
}

/**
 * Rebuilds a model written by `saveTfjsModel` (or by tfjs with a single weights file). The DSL's custom layer
 * classes are registered first, so this works in a process that never built the model.
 */
export async function loadTfjsModel(tf: Tf, modelJson: string, weights: Uint8Array): Promise<Tfjs.LayersModel> {
  registerTfjsCustomClasses(tf);
  const json = JSON.parse(modelJson) as { modelTopology?: object; weightsManifest?: { paths: string[]; weights: Tfjs.io.WeightsManifestEntry[] }[] };
  if (!json.modelTopology || !Array.isArray(json.weightsManifest)) throw new Error('model.json needs modelTopology and weightsManifest');
  const weightSpecs = json.weightsManifest.flatMap((group) => group.weights);
  const weightData = weights.buffer.slice(weights.byteOffset, weights.byteOffset + weights.byteLength) as ArrayBuffer;
  return tf.loadLayersModel(tf.io.fromMemory({ modelTopology: json.modelTopology, weightSpecs, weightData }));
}

function joinWeights(data: Tfjs.io.WeightData | undefined): Uint8Array {
  if (!data) return new Uint8Array(0);
  const parts = Array.isArray(data) ? data : [data];
  const out = new Uint8Array(parts.reduce((n, p) => n + p.byteLength, 0));
  let offset = 0;
  for (const p of parts) {
    out.set(new Uint8Array(p), offset);
    offset += p.byteLength;
  }
  return out;
}
