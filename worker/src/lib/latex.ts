/**
 * Text for a LaTeX document: the ten special characters escaped, and every line break or other
 * control character made a space, so a string can never end a `%` comment line or start a command
 * of its own (`\input{…}` on a fresh line would run when the paper is built).
 */
export function tex(s: string): string {
  return s
    .replace(/[\u0000-\u001f\u007f\u2028\u2029]/g, ' ')
    .replace(/[\\&%$#_{}~^]/g, (ch) =>
      ch === '\\' ? '\\textbackslash{}' : ch === '~' ? '\\textasciitilde{}' : ch === '^' ? '\\textasciicircum{}' : `\\${ch}`,
    );
}
