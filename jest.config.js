/** One config for unit, golden-fixture and e2e suites; swc keeps transpiling fast on 2 cores. */
module.exports = {
  testEnvironment: 'node',
  roots: ['<rootDir>/libs', '<rootDir>/apps', '<rootDir>/test'],
  testRegex: '.*\\.(spec|e2e-spec)\\.ts$',
  transform: {
    '^.+\\.ts$': ['@swc/jest', { jsc: { parser: { syntax: 'typescript', decorators: true }, transform: { legacyDecorator: true, decoratorMetadata: true }, target: 'es2022' } }],
  },
  moduleNameMapper: {
    '^@app/(dsl|contracts|config|persistence|storage|queue|testing|datasets|training|serving|sdk)(|/.*)$': '<rootDir>/libs/$1/src$2',
  },
  testTimeout: 120000,
};
