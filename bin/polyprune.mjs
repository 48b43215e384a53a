#!/usr/bin/env node
// The CLI is TypeScript (cli/main.ts); tsx's loader runs it without a build step, as for the
// runner and the scripts.
import { register } from 'tsx/esm/api';

register();
await import('../cli/main.ts');
