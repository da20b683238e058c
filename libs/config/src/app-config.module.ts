import { DynamicModule, Global, Inject, Module } from '@nestjs/common';
import { AppConfig, loadConfig } from './index';

/** Injection token of the validated {@link AppConfig}. A string, so copies of this module in a build still agree. */
export const APP_CONFIG = 'APP_CONFIG';

/** Parameter decorator: `constructor(@InjectAppConfig() config: AppConfig)`. */
export const InjectAppConfig = (): ParameterDecorator => Inject(APP_CONFIG);

/** Global module providing {@link APP_CONFIG}; import it once at the root of an app. */
@Global()
@Module({})
export class AppConfigModule {
  /** Provides `config`, or the process environment read through `loadConfig()` when none is given. */
  static forRoot(config?: AppConfig): DynamicModule {
    return {
      module: AppConfigModule,
      global: true,
      providers: [{ provide: APP_CONFIG, useValue: config ?? loadConfig() }],
      exports: [APP_CONFIG],
    };
  }
}
