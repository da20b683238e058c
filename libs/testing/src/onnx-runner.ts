import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export interface OnnxJob {
  id: string;
  /** A serialized ONNX model. */
  bytes: Uint8Array;
  /** Float32 feeds by input name. */
  inputs: Record<string, { dims: number[]; data: ArrayLike<number> }>;
}

export type OnnxResult = { dims: number[]; data: number[]; error?: string };

/**
 * Runs every job in onnxruntime-node in one child Node process and returns each model's first output: jest runs specs
 * in their own vm context, and onnxruntime-node's typed-array `instanceof` checks fail for arrays crossing it.
 */
export function runOnnx(jobs: OnnxJob[]): Record<string, OnnxResult> {
  const dir = mkdtempSync(join(tmpdir(), 'onnx-run-'));
  try {
    const manifest = jobs.map((j) => {
      const model = join(dir, `${j.id.replace(/\W/g, '_')}.onnx`);
      writeFileSync(model, j.bytes);
      return { id: j.id, model, inputs: Object.fromEntries(Object.entries(j.inputs).map(([k, v]) => [k, { dims: v.dims, data: Array.from(v.data) }])) };
    });
    const runner = `
      const ort = require(${JSON.stringify(require.resolve('onnxruntime-node'))});
      const fs = require('fs');
      (async () => {
        const out = {};
        for (const job of JSON.parse(fs.readFileSync(0, 'utf8'))) {
          try {
            const session = await ort.InferenceSession.create(job.model, { intraOpNumThreads: 1, interOpNumThreads: 1 });
            const feeds = {};
            for (const [k, v] of Object.entries(job.inputs)) feeds[k] = new ort.Tensor('float32', Float32Array.from(v.data), v.dims);
            const r = await session.run(feeds);
            const first = r[session.outputNames[0]];
            out[job.id] = { dims: first.dims, data: Array.from(first.data) };
          } catch (e) {
            out[job.id] = { error: String(e && e.message) };
          }
        }
        process.stdout.write(JSON.stringify(out));
      })();`;
    const run = spawnSync(process.execPath, ['-e', runner], { input: JSON.stringify(manifest), encoding: 'utf8', maxBuffer: 1 << 28 });
    if (run.status !== 0) throw new Error(`onnxruntime runner failed: ${run.stderr}`);
    return JSON.parse(run.stdout);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
