/** mulberry32: a small, fast, seedable PRNG giving uniform numbers in [0, 1). */
export function mulberry32(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** A seed derived from a base seed and a name (FNV-1a), so each named tensor gets its own stream. */
export function seedFor(seed: number, name: string): number {
  let h = 0x811c9dc5 ^ (seed >>> 0);
  for (let i = 0; i < name.length; i++) h = Math.imul(h ^ name.charCodeAt(i), 0x01000193);
  return h >>> 0;
}

/**
 * A rows×cols matrix with orthonormal rows or columns (whichever are fewer), like Keras `Orthogonal`: Gram-Schmidt on
 * Gaussian vectors drawn from `uniform` (Box-Muller), i.e. the Q of a QR with a positive diagonal.
 */
export function orthogonal(rows: number, cols: number, uniform: () => number): Float32Array {
  const long = Math.max(rows, cols);
  const short = Math.min(rows, cols);
  const normal = () => Math.sqrt(-2 * Math.log(1 - uniform())) * Math.cos(2 * Math.PI * uniform());
  const q: Float64Array[] = [];
  for (let j = 0; j < short; j++) {
    const v = Float64Array.from({ length: long }, normal);
    for (const u of q) {
      let dot = 0;
      for (let i = 0; i < long; i++) dot += u[i] * v[i];
      for (let i = 0; i < long; i++) v[i] -= dot * u[i];
    }
    let norm = 0;
    for (let i = 0; i < long; i++) norm += v[i] * v[i];
    norm = Math.sqrt(norm);
    for (let i = 0; i < long; i++) v[i] /= norm;
    q.push(v);
  }
  const out = new Float32Array(rows * cols);
  for (let r = 0; r < rows; r++) {
    for (let c = 0; c < cols; c++) out[r * cols + c] = rows < cols ? q[r][c] : q[c][r];
  }
  return out;
}
