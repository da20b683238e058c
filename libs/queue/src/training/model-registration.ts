import type { ModelBackend } from '@app/contracts';
import type { ModelFormat, ModelsRepository } from '@app/persistence';
import type { ArtifactStore } from '@app/storage';
import { randomUUID } from 'crypto';
import { tfjsZip } from './experiment-metrics';

/** A trained model's files, as a training run produces them (null: not produced by this engine). */
export interface TrainedFiles {
  onnx: Uint8Array | null;
  modelJson: string | null;
  weightsBin: Uint8Array | null;
  tensorflowCode: string | null;
  pytorchCode: string | null;
  stateDict: Uint8Array | null;
}

export interface TrainedModelInfo {
  tenantId: string;
  name: string;
  backend: ModelBackend;
  dsl: string;
  summary: unknown;
  warnings: unknown[];
  jobId: string;
  experimentId: string;
  sweepId?: string;
  hyperparameters?: Record<string, unknown>;
}

/**
 * Registers a trained model under /models/ with its own copy of every downloadable form (so deleting the experiment
 * leaves it whole). Returns the model id; on failure nothing of it is left behind.
 */
export async function registerTrainedModel(models: ModelsRepository, store: ArtifactStore, info: TrainedModelInfo, a: TrainedFiles): Promise<string> {
  const modelId = randomUUID();
  const name = info.name.slice(0, 200);
  const stem = name.replace(/[^A-Za-z0-9._-]+/g, '_').replace(/^[._-]+/, '').slice(0, 100) || 'model';
  const forms: Array<[string, string, Uint8Array | string | null, string, string]> = [
    ['onnx', 'model.onnx', a.onnx, 'application/octet-stream', `${stem}.onnx`],
    ['tfjs', 'model.tfjs.zip', a.modelJson && a.weightsBin ? tfjsZip(a.modelJson, a.weightsBin) : null, 'application/zip', `${stem}.tfjs.zip`],
    ['tensorflow', 'model_tensorflow.py', a.tensorflowCode, 'text/x-python', `${stem}_tensorflow.py`],
    ['pytorch', 'model_pytorch.py', a.pytorchCode, 'text/x-python', `${stem}_pytorch.py`],
    ['pytorch_weights', 'weights.pt', a.stateDict, 'application/octet-stream', `${stem}.pt`],
  ];
  const formats: Record<string, ModelFormat> = {};
  try {
    for (const [format, file, content, contentType, filename] of forms) {
      if (content === null) continue;
      const key = `${info.tenantId}/${modelId}/${file}`;
      const data = typeof content === 'string' ? content : Buffer.from(content.buffer, content.byteOffset, content.byteLength);
      const { size } = await store.put(key, data);
      formats[format] = { key, contentType, filename, sizeBytes: size };
    }
    const primary = formats[info.backend] ?? formats.onnx;
    await models.create({
      id: modelId,
      tenantId: info.tenantId,
      name,
      backend: info.backend,
      dsl: info.dsl,
      summary: info.summary,
      warnings: info.warnings,
      artifactKey: primary.key,
      sizeBytes: primary.sizeBytes,
      contentType: primary.contentType,
      filename: primary.filename,
      jobId: info.jobId,
      experimentId: info.experimentId,
      formats,
      sweepId: info.sweepId ?? null,
      hyperparameters: info.hyperparameters ?? null,
    });
  } catch (err) {
    await Promise.all(Object.values(formats).map((f) => store.delete(f.key).catch(() => undefined)));
    throw err;
  }
  return modelId;
}
