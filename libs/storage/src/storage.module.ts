import { AppConfig } from '@app/config';
import { DynamicModule, Global, Module } from '@nestjs/common';
import { APP_CONFIG } from '@app/config';
import { ArtifactStore } from './artifact-store';
import { LocalArtifactStore } from './local-artifact-store';

/** Injection token of the store holding experiment artifacts (under `config.storage.experimentsPath`). */
export const EXPERIMENT_STORE = 'EXPERIMENT_STORE';
/** Injection token of the store holding uploaded datasets (under `config.storage.datasetsPath`). */
export const DATASET_STORE = 'DATASET_STORE';
/** Injection token of the store holding deployed models' ONNX files (under `config.storage.deploymentsPath`). */
export const DEPLOYMENT_STORE = 'DEPLOYMENT_STORE';

/**
 * Provides the artifact stores (global): {@link ArtifactStore} for model files under `config.storage.modelsPath`,
 * and the stores of experiments and datasets under their own paths. Needs the APP_CONFIG provider (AppConfigModule).
 */
@Global()
@Module({})
export class StorageModule {
  private static root?: DynamicModule;

  static forRoot(): DynamicModule {
    StorageModule.root ??= {
      module: StorageModule,
      global: true,
      providers: [
        { provide: ArtifactStore, inject: [APP_CONFIG], useFactory: (config: AppConfig) => new LocalArtifactStore(config.storage.modelsPath) },
        { provide: EXPERIMENT_STORE, inject: [APP_CONFIG], useFactory: (config: AppConfig) => new LocalArtifactStore(config.storage.experimentsPath) },
        { provide: DATASET_STORE, inject: [APP_CONFIG], useFactory: (config: AppConfig) => new LocalArtifactStore(config.storage.datasetsPath) },
        { provide: DEPLOYMENT_STORE, inject: [APP_CONFIG], useFactory: (config: AppConfig) => new LocalArtifactStore(config.storage.deploymentsPath) },
      ],
      exports: [ArtifactStore, EXPERIMENT_STORE, DATASET_STORE, DEPLOYMENT_STORE],
    };
    return StorageModule.root;
  }
}
