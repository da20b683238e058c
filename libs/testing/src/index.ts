export * from './database';
export * from './app';
export * from './onnx-runner';
export * from './http';
export * from './processes';
