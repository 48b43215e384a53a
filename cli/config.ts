/**
 * Where the CLI finds the API and its token: flags, then POLYPRUNE_URL / POLYPRUNE_TOKEN, then the
 * file `polyprune login` writes (~/.config/polyprune/config.json, or under $XDG_CONFIG_HOME).
 */
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';

export interface CliConfig {
  url?: string;
  token?: string;
}

export function configPath(env: NodeJS.ProcessEnv = process.env): string {
  const base = env.XDG_CONFIG_HOME || path.join(os.homedir(), '.config');
  return path.join(base, 'polyprune', 'config.json');
}

export async function loadConfig(file = configPath()): Promise<CliConfig> {
  try {
    return JSON.parse(await readFile(file, 'utf8')) as CliConfig;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return {};
    throw new Error(`cannot read ${file}: ${(err as Error).message}`);
  }
}

export async function saveConfig(cfg: CliConfig, file = configPath()): Promise<void> {
  await mkdir(path.dirname(file), { recursive: true, mode: 0o700 });
  // The token is a secret: readable by the owner only.
  await writeFile(file, `${JSON.stringify(cfg, null, 2)}\n`, { mode: 0o600 });
}

export async function resolveConfig(
  flags: { url?: string; token?: string },
  env: NodeJS.ProcessEnv = process.env,
): Promise<Required<CliConfig> | { url: string; token: undefined }> {
  const file = await loadConfig();
  const url = flags.url ?? env.POLYPRUNE_URL ?? file.url ?? 'http://127.0.0.1:8787';
  const token = flags.token ?? env.POLYPRUNE_TOKEN ?? file.token;
  return { url, token } as Required<CliConfig>;
}
