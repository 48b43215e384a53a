/**
 * CSV cells for spreadsheets. A text cell that starts with = + - @ (or a tab or CR, which some
 * spreadsheets skip before reading the rest as a formula) is a formula when opened: OWASP's advice
 * is to prefix it with a single quote and quote the cell. Numbers are written as numbers, so a
 * negative value stays a value.
 */
export function csvField(v: string | number | null): string {
  if (v === null) return '';
  if (typeof v === 'number') return String(v);
  const s = /^[=+\-@\t\r]/.test(v) ? `'${v}` : v;
  return s !== v || /[",\n\r]/.test(s) ? `"${s.replaceAll('"', '""')}"` : s;
}

/** One CSV line (RFC 4180; the caller joins lines with CRLF). */
export const csvLine = (fields: readonly (string | number | null)[]) => fields.map(csvField).join(',');
