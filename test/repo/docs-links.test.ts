/**
 * The documentation holds together: every relative link of every markdown file resolves to a file of
 * the repository, and every `#anchor` to a heading of its target (GitHub's heading slugs); and no
 * file points outside the repository (a `../shared/` path that leaves it, or a design note that
 * only ever lived beside it).
 */
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';

const root = path.join(import.meta.dirname, '../..');
const textFile = /(\.(ts|tsx|mts|mjs|js|md|py|json|jsonc|yaml|yml|toml|sql|sh|example)|Dockerfile|\.ci\/run|\.npmrc|\.gitignore)$/;

/**
 * The repository's own files: tracked or new, never what .gitignore keeps out (dependencies, local
 * state, test reports and bench outputs, which name absolute paths of the machine they ran on).
 */
function repoFiles(): string[] {
  return execFileSync('git', ['ls-files', '--cached', '--others', '--exclude-standard', '-z'], { cwd: root, encoding: 'utf8', maxBuffer: 64 << 20 })
    .split('\0')
    .filter((f) => f && existsSync(path.join(root, f)) && statSync(path.join(root, f)).isFile());
}

/** GitHub's heading anchor: lower case, punctuation dropped (letters, digits, `_`, `-` and spaces kept), spaces as `-`, repeats numbered. */
function headingSlugs(md: string): Set<string> {
  const seen = new Map<string, number>();
  const slugs = new Set<string>();
  for (const line of withoutFences(md).split('\n')) {
    const m = /^ {0,3}#{1,6}\s+(.*?)\s*#*\s*$/.exec(line);
    if (!m) continue;
    const text = m[1]!
      .replace(/!?\[([^\]]*)\]\([^)]*\)/g, '$1')
      .replace(/<[^>]+>/g, '')
      .toLowerCase();
    const base = text.replace(/[^\p{L}\p{M}\p{N}\p{Pc} -]/gu, '').replace(/ /g, '-');
    const n = seen.get(base) ?? 0;
    seen.set(base, n + 1);
    slugs.add(n === 0 ? base : `${base}-${n}`);
  }
  return slugs;
}

function withoutFences(md: string): string {
  return md.replace(/^ {0,3}(```|~~~)[^\n]*\n[\s\S]*?^ {0,3}\1[^\n]*$/gm, '');
}

/** Fenced blocks and inline code spans hold examples, not links. */
function withoutCode(md: string): string {
  return withoutFences(md).replace(/`[^`\n]*`/g, '');
}

/** Every inline link target and reference definition of a markdown text, outside code. */
function linkTargets(md: string): string[] {
  const text = withoutCode(md);
  const inline = [...text.matchAll(/\]\(\s*<?([^)\s>]+)>?(?:\s+"[^"]*")?\s*\)/g)].map((m) => m[1]!);
  const defs = [...text.matchAll(/^ {0,3}\[[^\]]+\]:\s*<?(\S+?)>?(?:\s|$)/gm)].map((m) => m[1]!);
  return [...inline, ...defs];
}

/** Why a link of `from` (a path relative to the root) does not resolve, or null when it does. */
function brokenLink(from: string, target: string, read: (rel: string) => string | null): string | null {
  if (/^[a-z][a-z0-9+.-]*:/i.test(target)) return null; // https:, mailto:
  const [file, anchor] = target.split('#', 2) as [string, string | undefined];
  const rel = file ? path.posix.normalize(path.posix.join(path.posix.dirname(from), decodeURIComponent(file))) : from;
  if (rel.startsWith('../') || rel === '..') return `${target}: leaves the repository`;
  const md = read(rel);
  if (md === null) return `${target}: no file ${rel}`;
  if (anchor === undefined || anchor === '') return null;
  if (!rel.endsWith('.md')) return `${target}: an anchor into a file that is not markdown`;
  return headingSlugs(md).has(decodeURIComponent(anchor).toLowerCase()) ? null : `${target}: no heading #${anchor} in ${rel}`;
}

const files = repoFiles();
const readRepo = (rel: string): string | null => {
  const p = path.join(root, rel);
  if (!existsSync(p)) return null;
  return statSync(p).isDirectory() ? '' : readFileSync(p, 'utf8');
};

describe('documentation links', () => {
  it('slugs headings as GitHub does', () => {
    const s = headingSlugs(
      '# polyprune\n## Two commands\n### API throughput: `npm run bench -- api`\n## RankC: consistency with English\n## Two commands\n```\n# not a heading\n```\n## §3.1 Calibration text',
    );
    expect([...s]).toEqual([
      'polyprune',
      'two-commands',
      'api-throughput-npm-run-bench----api',
      'rankc-consistency-with-english',
      'two-commands-1',
      '31-calibration-text',
    ]);
  });

  it('finds broken links and anchors, and ignores code and absolute URLs', () => {
    const docs: Record<string, string> = { 'docs/a.md': '# A title\n## Part two\n', 'README.md': '' };
    const read = (rel: string) => docs[rel] ?? null;
    const md = '[ok](docs/a.md#part-two) [bad](docs/b.md) [anchor](docs/a.md#part-three) `[code](x.md)` [web](https://example.org/x) [up](../shared/X.md)';
    const problems = linkTargets(md)
      .map((t) => brokenLink('README.md', t, read))
      .filter(Boolean);
    expect(problems).toEqual([
      'docs/b.md: no file docs/b.md',
      'docs/a.md#part-three: no heading #part-three in docs/a.md',
      '../shared/X.md: leaves the repository',
    ]);
  });

  it('every relative link of every markdown file resolves, anchors included', () => {
    const mds = files.filter((f) => f.endsWith('.md'));
    expect(mds).toEqual(expect.arrayContaining(['README.md', 'CHANGELOG.md', 'CONTRIBUTING.md', 'docs/api.md', 'docs/design.md']));
    const problems = mds.flatMap((f) =>
      linkTargets(readFileSync(path.join(root, f), 'utf8'))
        .map((t) => brokenLink(f, t, readRepo))
        .filter((p) => p !== null)
        .map((p) => `${f}: ${p}`),
    );
    expect(problems).toEqual([]);
  });
});

/** Notes that lived next to the repository and never in it: naming them points a reader nowhere. */
const outsideNotes = ['DESIGN', 'REAL-EXPORTS', 'STYLE', 'TOOLCHAIN'].map((n) => `${n}.md`);

/** Where a text points outside the repository: `/work/…` paths, `../shared/` paths that do not land in the repository's `shared/`, and the outside notes. */
function outsideReferences(from: string, text: string): string[] {
  const found: string[] = [];
  for (const m of text.matchAll(/\/work\/[\w./-]*/g)) found.push(m[0]);
  for (const m of text.matchAll(/(?:\.\.\/)+shared\/[\w./-]*/g)) {
    const rel = path.posix.normalize(path.posix.join(path.posix.dirname(from), m[0]));
    if (!rel.startsWith('shared/')) found.push(m[0]);
  }
  for (const name of outsideNotes) if (text.includes(name)) found.push(name);
  return found;
}

describe('no pointers outside the repository', () => {
  it('tells the repository shared/ from paths that leave the repository', () => {
    expect(outsideReferences('worker/src/jobs/queue.ts', "import { x } from '../../../shared/src/api/jobs';")).toEqual([]);
    expect(outsideReferences('bench/scale/decoder.ts', ' * (../shared/REAL-EXPORTS.md §1)')).toEqual(['../shared/REAL-EXPORTS.md', 'REAL-EXPORTS.md']);
    expect(outsideReferences('shared/src/x.ts', '(docs: /work/shared/notes.md)')).toEqual(['/work/shared/notes.md']);
  });

  it('no file names a path or a note outside the repository', () => {
    const self = path
      .relative(root, import.meta.filename)
      .split(path.sep)
      .join('/');
    const texts = files.filter((f) => f !== self && textFile.test(f) && statSync(path.join(root, f)).size < 4_000_000);
    expect(texts.length).toBeGreaterThan(300);
    const problems = texts.flatMap((f) => outsideReferences(f, readFileSync(path.join(root, f), 'utf8')).map((r) => `${f}: ${r}`));
    expect(problems).toEqual([]);
  });
});
