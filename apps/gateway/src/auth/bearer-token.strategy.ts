import type { Request } from 'express';
import { Strategy } from 'passport';
import type { AuthPrincipal } from './auth-principal';

type Verify = (token: string) => Promise<AuthPrincipal | null>;

const BEARER = /^Bearer[ ]+([A-Za-z0-9._~+/=-]+)$/i;

/** Passport strategy for `Authorization: Bearer <token>`; `verify` decides what a token is worth. */
export class BearerTokenStrategy extends Strategy {
  override name = 'bearer';

  constructor(private readonly verify: Verify) {
    super();
  }

  override authenticate(req: Request): void {
    const header = req.headers.authorization;
    const match = typeof header === 'string' ? BEARER.exec(header.trim()) : null;
    if (!match) return this.fail('Bearer', 401);
    this.verify(match[1]).then(
      (principal) => (principal ? this.success(principal) : this.fail('Bearer error="invalid_token"', 401)),
      (err: unknown) => this.error(err instanceof Error ? err : new Error(String(err))),
    );
  }
}
