import type { FC } from 'hono/jsx';
import { Layout } from './layout';

export interface Who {
  owner: string;
  /** how the caller is known: the page's session, or a bearer token sent by a script */
  via: 'session' | 'token';
}

/**
 * The sign-in form. The token is pasted into a password field and posted to this origin only; the
 * answer is a session cookie, so the secret never appears in a page or a URL.
 */
export const SignInPage: FC<{ who: Who | null; next: string; problem?: string }> = ({ who, next, problem }) => (
  <Layout title="sign in">
    <h1>Sign in</h1>
    {problem ? <p class="missing">{problem}</p> : null}
    {who ? (
      <p>
        Signed in as <strong>{who.owner}</strong>
        {who.via === 'token' ? ' (by the bearer token of this request)' : ''}.{' '}
        {who.via === 'session' ? (
          <form class="inline" method="post" action="/logout">
            <button type="submit">Sign out</button>
          </form>
        ) : null}
      </p>
    ) : null}
    <form method="post" action="/login">
      <label for="token">API token (pp_…)</label>
      <input id="token" name="token" type="password" autocomplete="off" required />
      <input type="hidden" name="next" value={next} />
      <p>
        <button type="submit">Sign in</button>
      </p>
    </form>
    <p class="note">
      Signing in opens a session of this browser that lasts a week: pages and GET reads then show what the token may read. It never writes: uploads, jobs and
      every other change take the token as <code>Authorization: Bearer</code>. Signing out, or revoking the token, ends the session.
    </p>
  </Layout>
);

/** Where a sign-in may return to: a path of this site, never another origin. */
export function safeNext(next: string | undefined | null): string {
  if (!next?.startsWith('/') || next.startsWith('//') || next.startsWith('/\\') || /[\r\n]/.test(next)) return '/';
  return next.slice(0, 2000);
}
