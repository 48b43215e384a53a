/** Who a request stands for (lib/auth.ts resolves it), in a module of its own: env.ts types `c.var.principal` with it. */
import type { Scope } from '@polyprune/shared/api/common';

export interface Principal {
  tokenId: string;
  owner: string;
  scopes: ReadonlySet<Scope>;
  rateLimitPerMinute: number | null;
  /** set when a session cookie (lib/sessions.ts), not a bearer token, stands for the caller */
  via?: 'session';
}
