#!/usr/bin/env node
import { readFileSync, writeFileSync } from 'fs';
import { parseArgs } from 'util';
import { BACKENDS, analyze, compile, type Backend } from './index';
import { DslError, formatDiagnostic, type Diagnostic } from './diagnostics';
import type { Value } from './ir';
import { renderSummary } from './report';

const USAGE = `usage:
  neural check <file.neural> [--no-auto-flatten]
  neural compile <file.neural> --backend tensorflow|pytorch|onnx [-o <out>] [--dataset NAME] [--hpo path=value ...] [--no-auto-flatten]`;

/** Runs the CLI; returns the process exit code (0 ok, 1 DSL errors, 2 usage or I/O problems). */
export function main(argv: string[], out: NodeJS.WritableStream = process.stdout, err: NodeJS.WritableStream = process.stderr): number {
  let parsed;
  try {
    parsed = parseArgs({
      args: argv,
      allowPositionals: true,
      options: {
        backend: { type: 'string', short: 'b' },
        output: { type: 'string', short: 'o' },
        dataset: { type: 'string' },
        hpo: { type: 'string', multiple: true },
        'no-auto-flatten': { type: 'boolean' },
        help: { type: 'boolean', short: 'h' },
      },
    });
  } catch (e) {
    err.write(`${(e as Error).message}\n${USAGE}\n`);
    return 2;
  }
  const { values, positionals } = parsed;
  const [command, file] = positionals;
  if (values.help || !command || !file || positionals.length > 2 || !['check', 'compile'].includes(command)) {
    (values.help ? out : err).write(`${USAGE}\n`);
    return values.help ? 0 : 2;
  }
  let source: string;
  try {
    source = readFileSync(file, 'utf8');
  } catch (e) {
    err.write(`neural: cannot read ${file}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}\n`);
    return 2;
  }
  const report = (ds: Diagnostic[]) => ds.forEach((d) => err.write(`${formatDiagnostic(d, source, file)}\n`));
  const autoFlatten = !values['no-auto-flatten'];
  try {
    if (command === 'check') {
      const { checked, warnings } = analyze(source, { autoFlatten });
      report(warnings);
      out.write(renderSummary(checked.summary));
      return 0;
    }
    const backend = values.backend as Backend | undefined;
    if (!backend || !(BACKENDS as readonly string[]).includes(backend)) {
      err.write(`neural: --backend must be one of ${BACKENDS.join(', ')}\n`);
      return 2;
    }
    const hpo: Record<string, Value> = {};
    for (const kv of values.hpo ?? []) {
      const eq = kv.indexOf('=');
      if (eq < 1) {
        err.write(`neural: --hpo takes path=value, got '${kv}'\n`);
        return 2;
      }
      const raw = kv.slice(eq + 1);
      hpo[kv.slice(0, eq)] = raw !== '' && !Number.isNaN(Number(raw)) ? Number(raw) : raw;
    }
    const result = compile(source, { backend, autoFlatten, hpo, dataset: values.dataset });
    report(result.warnings);
    const payload = result.onnx ?? result.code ?? '';
    if (values.output) writeFileSync(values.output, payload);
    else if (result.onnx) {
      err.write('neural: an ONNX model is binary; write it to a file with -o model.onnx\n');
      return 2;
    } else out.write(payload);
    return 0;
  } catch (e) {
    if (e instanceof DslError) {
      report(e.diagnostics);
      return 1;
    }
    throw e;
  }
}

if (require.main === module) process.exitCode = main(process.argv.slice(2));
