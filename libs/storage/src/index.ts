export * from './artifact-store';
export { LocalArtifactStore } from './local-artifact-store';
export { StorageModule } from './storage.module';
