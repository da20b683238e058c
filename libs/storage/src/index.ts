export * from './artifact-store';
export { LocalArtifactStore } from './local-artifact-store';
export { StorageModule, EXPERIMENT_STORE, DATASET_STORE, DEPLOYMENT_STORE } from './storage.module';
