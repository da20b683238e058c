import { useCallback, useEffect, useRef, useState, type PointerEvent as ReactPointerEvent } from 'react';

const SIZE = 280;
const GRID = 28;
const BLOCK = SIZE / GRID;
const STROKE = 18;

/** The canvas's pixels averaged over each 10×10 block: 28 rows of 28 grayscale values in [0, 1]. */
export function downsample(canvas: HTMLCanvasElement): number[][] {
  const ctx = canvas.getContext('2d', { willReadFrequently: true });
  const rows: number[][] = [];
  if (!ctx) return Array.from({ length: GRID }, () => Array<number>(GRID).fill(0));
  const { data, width } = ctx.getImageData(0, 0, canvas.width, canvas.height);
  const bw = canvas.width / GRID;
  const bh = canvas.height / GRID;
  for (let r = 0; r < GRID; r++) {
    const row: number[] = [];
    for (let c = 0; c < GRID; c++) {
      let sum = 0;
      let n = 0;
      for (let y = Math.floor(r * bh); y < Math.floor((r + 1) * bh); y++) {
        for (let x = Math.floor(c * bw); x < Math.floor((c + 1) * bw); x++) {
          const i = (y * width + x) * 4;
          sum += (data[i] + data[i + 1] + data[i + 2]) / 3;
          n++;
        }
      }
      row.push(n ? Math.round((sum / n / 255) * 1000) / 1000 : 0);
    }
    rows.push(row);
  }
  return rows;
}

/**
 * A 280×280 drawing area for a handwritten digit (white strokes on black, like MNIST), drawn with any pointer: mouse,
 * touch or pen. "Predict" hands `onPredict` the drawing downsampled to 28×28 grayscale in [0, 1], as 28 rows × 28
 * columns × [1] (`channels`) or 28 × 28. The canvas scales down with CSS; pointer positions are mapped through its
 * on-screen box, so strokes land under the pointer at any size.
 */
export function DigitCanvas({ onPredict, busy = false, channels = true }: { onPredict: (instance: number[][] | number[][][]) => void; busy?: boolean; channels?: boolean }) {
  const canvas = useRef<HTMLCanvasElement>(null);
  const last = useRef<{ x: number; y: number; id: number } | null>(null);
  const [drawn, setDrawn] = useState(false);

  const clear = useCallback(() => {
    const ctx = canvas.current?.getContext('2d', { willReadFrequently: true });
    if (!ctx) return;
    ctx.fillStyle = '#000';
    ctx.fillRect(0, 0, SIZE, SIZE);
    setDrawn(false);
  }, []);

  useEffect(clear, [clear]);

  const point = (e: { clientX: number; clientY: number }) => {
    const el = canvas.current!;
    const box = el.getBoundingClientRect();
    return {
      x: ((e.clientX - box.left) * el.width) / (box.width || el.width),
      y: ((e.clientY - box.top) * el.height) / (box.height || el.height),
    };
  };

  const stroke = (from: { x: number; y: number }, to: { x: number; y: number }) => {
    const ctx = canvas.current?.getContext('2d', { willReadFrequently: true });
    if (!ctx) return;
    ctx.strokeStyle = '#fff';
    ctx.fillStyle = '#fff';
    ctx.lineWidth = STROKE;
    ctx.lineCap = 'round';
    ctx.lineJoin = 'round';
    ctx.beginPath();
    if (from.x === to.x && from.y === to.y) {
      ctx.arc(to.x, to.y, STROKE / 2, 0, Math.PI * 2);
      ctx.fill();
    } else {
      ctx.moveTo(from.x, from.y);
      ctx.lineTo(to.x, to.y);
      ctx.stroke();
    }
  };

  const down = (e: ReactPointerEvent<HTMLCanvasElement>) => {
    if (e.pointerType === 'mouse' && e.button !== 0) return;
    e.preventDefault();
    e.currentTarget.setPointerCapture?.(e.pointerId);
    const p = point(e);
    stroke(p, p);
    last.current = { ...p, id: e.pointerId };
    setDrawn(true);
  };

  const move = (e: ReactPointerEvent<HTMLCanvasElement>) => {
    const from = last.current;
    if (!from || from.id !== e.pointerId) return;
    e.preventDefault();
    const events = typeof e.nativeEvent.getCoalescedEvents === 'function' ? e.nativeEvent.getCoalescedEvents() : [];
    let prev: { x: number; y: number } = from;
    for (const ev of events.length ? events : [e]) {
      const p = point(ev);
      stroke(prev, p);
      prev = p;
    }
    last.current = { ...prev, id: e.pointerId };
  };

  const up = (e: ReactPointerEvent<HTMLCanvasElement>) => {
    if (last.current?.id === e.pointerId) last.current = null;
  };

  const predict = () => {
    if (!canvas.current) return;
    const rows = downsample(canvas.current);
    onPredict(channels ? rows.map((row) => row.map((v) => [v])) : rows);
  };

  return (
    <div className="digit">
      <canvas
        ref={canvas}
        className="digit-canvas"
        width={SIZE}
        height={SIZE}
        aria-label="Drawing area"
        aria-describedby="digit-help"
        onPointerDown={down}
        onPointerMove={move}
        onPointerUp={up}
        onPointerCancel={up}
        onLostPointerCapture={up}
      />
      <p id="digit-help" className="hint">
        Draw a digit with a mouse, finger or pen; it is sent as 28×28 grayscale ({BLOCK}×{BLOCK} pixel blocks averaged). Drawing needs a
        pointer: from the keyboard, enter the pixels as JSON below instead.
      </p>
      <div className="row">
        <button type="button" onClick={predict} disabled={busy}>
          {busy ? 'Predicting…' : 'Predict'}
        </button>
        <button type="button" className="secondary" onClick={clear} disabled={busy || !drawn}>
          Clear
        </button>
      </div>
    </div>
  );
}
