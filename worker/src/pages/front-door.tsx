import type { FC } from 'hono/jsx';
import { Layout } from './layout';
import type { Who } from './sign-in';

export interface FrontDoorData {
  who: Who | null;
  models: { id: string; name: string; family: string; visibility: string }[];
  runs: { id: string; kind: string; variant: string; modelId: string; modelName: string | null; createdAt: string }[];
  sweeps: { id: string; modelId: string; jobs: number; createdAt: string }[];
}

const day = (iso: string) => iso.slice(0, 16).replace('T', ' ');

/** `/`: what this is, and the caller's way in: models, recent runs and sweeps, boards, the API. */
export const FrontDoor: FC<FrontDoorData> = ({ who, models, runs, sweeps }) => (
  <Layout title="home">
    <h1>polyprune</h1>
    <p>
      Prunes multilingual decoder LMs (ONNX exports) for chosen language pairs with Wanda calibrated on translation demonstrations, evaluates the pruned
      variants on your suites and ranks them on leaderboards with intervals and Δ vs dense.
    </p>
    {who ? (
      <p>
        Signed in as <strong>{who.owner}</strong>
        {who.via === 'session' ? (
          <>
            {' '}
            ·{' '}
            <form class="inline" method="post" action="/logout">
              <button type="submit">Sign out</button>
            </form>
          </>
        ) : null}
      </p>
    ) : (
      <p>
        Work is private by default: <a href="/login">sign in</a> with an API token to see yours. Signed out, this page shows public work only.
      </p>
    )}
    <section id="models">
      <h2>{who ? 'Your models' : 'Public models'}</h2>
      {models.length ? (
        <table>
          <thead>
            <tr>
              <th>model</th>
              <th>family</th>
              <th>visibility</th>
              <th>board</th>
            </tr>
          </thead>
          <tbody>
            {models.map((m) => (
              <tr>
                <td>
                  <a href={`/v1/models/${m.id}`}>{m.name}</a>
                </td>
                <td>{m.family}</td>
                <td>{m.visibility}</td>
                <td>
                  <a href={`/leaderboards/${m.id}`}>leaderboard</a>
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      ) : (
        <p class="note">{who ? 'No models yet: register one with POST /v1/models (docs/models.md in the repository).' : 'No public models yet.'}</p>
      )}
    </section>
    <section id="runs">
      <h2>Recent runs</h2>
      {runs.length ? (
        <ul>
          {runs.map((r) => (
            <li>
              <a href={`/runs/${r.id}`}>{r.variant}</a> ({r.kind}) of {r.modelName ?? r.modelId} — {day(r.createdAt)}
            </li>
          ))}
        </ul>
      ) : (
        <p class="note">No runs to show.</p>
      )}
    </section>
    <section id="sweeps">
      <h2>Recent sweeps</h2>
      {sweeps.length ? (
        <ul>
          {sweeps.map((s) => (
            <li>
              <a href={`/sweeps/${s.id}`}>{s.id}</a>: {s.jobs} jobs on {s.modelId} — {day(s.createdAt)}
            </li>
          ))}
        </ul>
      ) : (
        <p class="note">No sweeps to show.</p>
      )}
    </section>
    <section id="boards">
      <h2>Leaderboards</h2>
      <p>
        <a href="/leaderboards">Across models</a>, or per model from the table above.
      </p>
    </section>
    <section id="docs">
      <h2>Docs and API</h2>
      <ul>
        <li>
          <a href="/v1/openapi.json">The OpenAPI 3.1 document</a> of every route (bearer tokens; generate a typed client from it).
        </li>
        <li>
          <a href="/v1/health">Health and version</a>.
        </li>
        <li>
          The README of the repository, and its docs/: the API and the CLI by example (docs/api.md), configuration, the local stack, the runner, the design and
          the mask format.
        </li>
      </ul>
    </section>
  </Layout>
);
