import type { D1Migration } from '@cloudflare/vitest-plugin';
import type { Bindings } from '../../worker/src/env';

declare global {
  namespace Cloudflare {
    interface Env extends Bindings {
      TEST_MIGRATIONS: D1Migration[];
    }
  }
}

// Fixture files imported as text (`?raw`), so tests upload the very bytes under test/fixtures.
declare module '*?raw' {
  const text: string;
  export default text;
}
