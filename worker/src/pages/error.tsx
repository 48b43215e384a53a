import type { FC } from 'hono/jsx';
import { Layout } from './layout';

/**
 * The answer of a page that failed: a page not found, not visible to the caller, or refused. Private
 * pages of others read as missing (as in the API), so the page offers to sign in rather than
 * telling whether they exist.
 */
const ErrorPage: FC<{ status: number; message: string; path: string }> = ({ status, message, path }) => (
  <Layout title={status === 404 ? 'not found' : `error ${status}`}>
    <h1>{status === 404 ? 'Not found' : `Error ${status}`}</h1>
    <p>{message}</p>
    {status === 404 || status === 401 || status === 403 ? (
      <p>
        Private work shows only to its owner: <a href={`/login?next=${encodeURIComponent(path)}`}>sign in</a> with a token that may read it.
      </p>
    ) : null}
    <p>
      <a href="/">Front page</a>
    </p>
  </Layout>
);

/** For the error handler, which is not JSX. */
export const errorPage = (props: { status: number; message: string; path: string }) => <ErrorPage {...props} />;
