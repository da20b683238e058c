import { AppConfig } from '@app/config';
import { DynamicModule, Global, Module } from '@nestjs/common';
import { APP_CONFIG } from '@app/config';
import { ArtifactStore } from './artifact-store';
import { LocalArtifactStore } from './local-artifact-store';

/**
 * Provides {@link ArtifactStore} (global): the local filesystem under `config.storage.modelsPath`. Needs the
 * APP_CONFIG provider (AppConfigModule) in the app.
 */
@Global()
@Module({})
export class StorageModule {
  private static root?: DynamicModule;

  static forRoot(): DynamicModule {
    StorageModule.root ??= {
      module: StorageModule,
      global: true,
      providers: [{ provide: ArtifactStore, inject: [APP_CONFIG], useFactory: (config: AppConfig) => new LocalArtifactStore(config.storage.modelsPath) }],
      exports: [ArtifactStore],
    };
    return StorageModule.root;
  }
}
