import type { ApiScope } from '@app/contracts';

/** What a successful authentication yields; stored as `req.user`. */
export interface AuthPrincipal {
  tenantId: string;
  apiKeyId: string;
  /** Every scope the key grants, implied ones included (see `grantedScopes`). */
  scopes: ApiScope[];
  /** How the caller proved it: the key itself, or a token issued for it. */
  method: 'api_key' | 'bearer';
}

/** Claims of the tokens issued by `POST /auth/token`. */
export interface AccessTokenClaims {
  /** The API key the token was issued for. */
  sub: string;
  /** Its tenant. */
  tid: string;
  /** The key's scopes when the token was issued (informative: requests are checked against the key's current ones). */
  scp: string[];
}
