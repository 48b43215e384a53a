import type { Child, FC } from 'hono/jsx';

/**
 * The same links on every page. Who is signed in is shown on the front door and on /login, so that
 * this frame stays a pure function of the page's data.
 */
export const SiteNav: FC = () => (
  <nav class="site">
    <a href="/">polyprune</a> · <a href="/leaderboards">leaderboards</a> · <a href="/login">sign in / out</a> · <a href="/v1/openapi.json">API (OpenAPI)</a>
  </nav>
);

/** The frame of the run and sweep pages: server-rendered, no script, readable without CSS too. */
export const Layout: FC<{ title: string; children?: Child }> = ({ title, children }) => (
  <html lang="en">
    <head>
      <meta charset="utf-8" />
      <title>{`polyprune · ${title}`}</title>
      <style>{`
        body { font-family: system-ui, sans-serif; margin: 2rem; color: #222; max-width: 1200px; }
        table { border-collapse: collapse; margin: 1rem 0; }
        th, td { padding: .3rem .6rem; border-bottom: 1px solid #ddd; text-align: right; }
        th:first-child, td:first-child { text-align: left; }
        .note { color: #555; font-size: .9rem; } .missing { color: #8a4b00; background: #fff5e6; padding: .6rem .8rem; border-left: 3px solid #f0a030; }
        figure { margin: 1rem 0 2rem; } figcaption { font-weight: 600; margin-bottom: .4rem; }
        a.sel { font-weight: 700; } .status-failed, .status-canceled { color: #c62828; } .status-succeeded { color: #1a7f37; }
        nav.site { font-size: .9rem; margin-bottom: 1rem; color: #555; } form.inline { display: inline; }
        label { display: block; margin: .6rem 0 .3rem; } input[type=password] { width: 32rem; max-width: 100%; font: inherit; padding: .3rem; }
      `}</style>
    </head>
    <body>
      <SiteNav />
      {children}
    </body>
  </html>
);

export const fmt = (v: number | null | undefined, digits = 3) => (v == null || !Number.isFinite(v) ? '—' : v.toFixed(digits));
