export * from './client';
export * from './errors';
export * from './jobs';
export type { components, operations, paths } from './schema';
