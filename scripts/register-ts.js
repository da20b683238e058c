// Runs the repo's TypeScript under plain node (`node -r ./scripts/register-ts.js file.ts`): compiled by swc with
// decorator metadata, which Nest's dependency injection needs and esbuild-based runners (tsx) do not emit, and with
// the @app/* path aliases of tsconfig.json resolved to libs/<name>/src.
const fs = require('fs');
const Module = require('module');
const path = require('path');
const { transformSync } = require('@swc/core');

const root = path.resolve(__dirname, '..');
const alias = /^@app\/(dsl|contracts|config|persistence|storage|queue|testing|datasets|training|serving|sdk)(\/.*)?$/;

const resolveFilename = Module._resolveFilename;
Module._resolveFilename = function (request, ...rest) {
  const match = alias.exec(request);
  return resolveFilename.call(this, match ? path.join(root, 'libs', match[1], 'src', match[2] ?? '') : request, ...rest);
};

require.extensions['.ts'] = (module, filename) => {
  const { code } = transformSync(fs.readFileSync(filename, 'utf8'), {
    filename,
    sourceMaps: 'inline',
    module: { type: 'commonjs' },
    jsc: {
      parser: { syntax: 'typescript', decorators: true },
      transform: { legacyDecorator: true, decoratorMetadata: true },
      target: 'es2022',
    },
  });
  module._compile(code, filename);
};
