import { type AppConfig, APP_CONFIG } from '@app/config';
import type { Provider } from '@nestjs/common';
import { Passport } from 'passport';
import { HeaderAPIKeyStrategy } from 'passport-headerapikey';
import { AuthService } from './auth.service';
import { BearerTokenStrategy } from './bearer-token.strategy';

/** Injection token of this gateway's own passport instance. */
export const GATEWAY_PASSPORT = 'GATEWAY_PASSPORT';

export type GatewayStrategy = 'api-key' | 'jwt';

/**
 * Each gateway gets its own `Passport` with the two strategies. @nestjs/passport registers strategies on the
 * process-wide passport singleton, so two gateways in one process (the shared rate-limit test) would replace each
 * other's strategies, each bound to the other's repositories.
 */
export const passportProvider: Provider = {
  provide: GATEWAY_PASSPORT,
  inject: [APP_CONFIG, AuthService],
  useFactory: (config: AppConfig, auth: AuthService) => {
    const passport = new Passport();
    passport.use(
      'api-key',
      new HeaderAPIKeyStrategy({ header: config.auth.apiKeyHeader, prefix: '' }, false, (apiKey, done) => {
        auth.authenticateApiKey(apiKey).then(
          (principal) => (principal ? done(null, principal) : done(null, undefined)),
          (err: Error) => done(err),
        );
      }),
    );
    passport.use('jwt', new BearerTokenStrategy((token) => auth.verifyAccessToken(token)));
    return passport;
  },
};
