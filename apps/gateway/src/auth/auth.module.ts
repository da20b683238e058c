import { type AppConfig, APP_CONFIG } from '@app/config';
import { Module } from '@nestjs/common';
import { JwtModule } from '@nestjs/jwt';
import { AuthFailureLimiter } from '../common/auth-failure-limiter';
import { ApiKeysService } from './api-keys.service';
import { AuthController } from './auth.controller';
import { ApiAuthGuard } from './auth.guard';
import { AuthService } from './auth.service';
import { GATEWAY_PASSPORT, passportProvider } from './passport.provider';

const ISSUER = 'neural-dsl-platform';

/** API keys and bearer tokens: the strategies, the global guard (registered by AppModule), `/auth/keys` and `/auth/token`. */
@Module({
  imports: [
    JwtModule.registerAsync({
      inject: [APP_CONFIG],
      useFactory: (config: AppConfig) => ({
        secret: config.auth.secretKey,
        signOptions: { algorithm: 'HS256', issuer: ISSUER },
        verifyOptions: { algorithms: ['HS256'], issuer: ISSUER },
      }),
    }),
  ],
  controllers: [AuthController],
  providers: [AuthService, ApiKeysService, AuthFailureLimiter, passportProvider, ApiAuthGuard],
  exports: [AuthService, ApiAuthGuard, GATEWAY_PASSPORT],
})
export class AuthModule {}
