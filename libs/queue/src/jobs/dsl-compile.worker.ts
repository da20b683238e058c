/**
 * Worker-thread entry of DslSandbox: compiles one DSL source per message, so a slow or huge compile can be stopped
 * (thread terminated) without blocking the event loop that serves requests and renews queue locks.
 */
import { parentPort } from 'worker_threads';
import { compile, DslError } from '@app/dsl';
import type { SandboxReply, SandboxRequest } from './dsl-sandbox.protocol';

const port = parentPort;
if (!port) throw new Error('dsl-compile.worker must run in a worker thread');

port.on('message', (req: SandboxRequest) => {
  let reply: SandboxReply;
  try {
    const out = compile(req.source, { backend: req.backend, dataset: req.dataset, autoFlatten: req.autoFlatten });
    reply = { id: req.id, ok: true, output: { code: out.code, onnx: out.onnx, summary: out.summary, warnings: out.warnings } };
  } catch (err) {
    reply =
      err instanceof DslError
        ? { id: req.id, ok: false, diagnostics: err.diagnostics }
        : { id: req.id, ok: false, failure: err instanceof Error ? `${err.name}: ${err.message}` : String(err) };
  }
  port.postMessage(reply);
});
