/**
 * Node's embedded ICU data (full-icu: 33 MB of its binary, 8 MB after xz) cut down to the root and
 * English locales for the device bundle (`bash scripts/gpu-check.sh prepare`): the resource bundles
 * of every other locale leave the package, the rest of the blob is zeroed (xz stores zeros in next
 * to nothing), which saves ~4 MiB of the device call's 64. Everything locale-independent stays:
 * normalization, root collation, break rules and dictionaries, converters, time zones, plural and
 * supplemental data. On the trimmed Node, Intl asked for another locale answers in English formats;
 * nothing the device check runs asks for one.
 *
 *   tsx scripts/gpu-check/icu-trim.ts IN OUT    (IN: Node's binary with its symbol table, as npm ships it)
 *
 * ICU's common data format ("CmnD"): a data header (its size in the first two bytes, then the magic
 * 0xda27 and UDataInfo naming the format), then a table of contents: a uint32 count and per item a
 * uint32 name offset and a uint32 data offset, both relative to the table's start, the names
 * (NUL-terminated, sorted: ICU binary-searches them), then the items, each 16-byte aligned.
 */
import { chmodSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export interface IcuItem {
  name: string;
  /** the item's bytes up to the next item (so with its alignment padding) */
  data: Buffer;
}

/** The locales kept: root, English, US English and its POSIX variant, world English. */
export const KEPT_LOCALES = new Set(['root', 'en', 'en_US', 'en_US_POSIX', 'en_001']);

// A locale bundle's name (de, sr_Latn_BA, es_419); other .res items (pool, res_index, zoneinfo64,
// supplementalData…) are not locales and stay.
const LOCALE = /^(root|[a-z]{2,3}(_[A-Za-z0-9]+)*)$/;

function checkHeader(pkg: Buffer): number {
  const headerSize = pkg.readUInt16LE(0);
  if (pkg[2] !== 0xda || pkg[3] !== 0x27 || pkg.toString('latin1', 12, 16) !== 'CmnD' || pkg[8] !== 0)
    throw new Error('not a little-endian ICU common data package (CmnD)');
  return headerSize;
}

export function listIcuPackage(pkg: Buffer): IcuItem[] {
  const toc = checkHeader(pkg);
  const count = pkg.readUInt32LE(toc);
  const starts = Array.from({ length: count }, (_, i) => toc + pkg.readUInt32LE(toc + 8 + 8 * i));
  return Array.from({ length: count }, (_, i) => {
    const nameAt = toc + pkg.readUInt32LE(toc + 4 + 8 * i);
    return { name: pkg.toString('latin1', nameAt, pkg.indexOf(0, nameAt)), data: pkg.subarray(starts[i]!, starts[i + 1] ?? pkg.length) };
  });
}

/** Whether an item is kept: everything but the resource bundles of locales outside `keep`. */
export function keepItem(name: string, keep: ReadonlySet<string> = KEPT_LOCALES): boolean {
  const base = name.slice(name.lastIndexOf('/') + 1);
  if (!base.endsWith('.res')) return true;
  const stem = base.slice(0, -'.res'.length);
  return stem === 'pool' || stem === 'res_index' || !LOCALE.test(stem) || keep.has(stem);
}

/** A package with the kept items, in their order, under the same data header. */
export function buildIcuPackage(header: Buffer, items: IcuItem[]): Buffer {
  const toc = header.length;
  const names = Buffer.concat(items.map((it) => Buffer.from(`${it.name}\0`, 'latin1')));
  const tableEnd = toc + 4 + 8 * items.length + names.length;
  let at = Math.ceil(tableEnd / 16) * 16;
  const table = Buffer.alloc(4 + 8 * items.length);
  table.writeUInt32LE(items.length, 0);
  const parts: Buffer[] = [];
  let nameAt = 4 + 8 * items.length;
  for (const [i, it] of items.entries()) {
    table.writeUInt32LE(nameAt, 4 + 8 * i);
    table.writeUInt32LE(at - toc, 8 + 8 * i);
    nameAt += Buffer.byteLength(it.name, 'latin1') + 1;
    const padded = Buffer.alloc(Math.ceil(it.data.length / 16) * 16);
    it.data.copy(padded);
    parts.push(padded);
    at += padded.length;
  }
  return Buffer.concat([header, table, names, Buffer.alloc(Math.ceil(tableEnd / 16) * 16 - tableEnd), ...parts]);
}

export function trimIcuPackage(pkg: Buffer, keep: ReadonlySet<string> = KEPT_LOCALES): Buffer {
  const header = pkg.subarray(0, checkHeader(pkg));
  return buildIcuPackage(
    header,
    listIcuPackage(pkg).filter((it) => keepItem(it.name, keep)),
  );
}

/** Where the symbol icudt<N>_dat (the embedded package) lies in an x86-64 ELF file. */
export function findIcuData(elf: Buffer): { offset: number; size: number; symbol: string } {
  if (elf.readUInt32BE(0) !== 0x7f454c46 || elf[4] !== 2 || elf[5] !== 1) throw new Error('not a 64-bit little-endian ELF file');
  const shoff = Number(elf.readBigUInt64LE(0x28));
  const shentsize = elf.readUInt16LE(0x3a);
  const shnum = elf.readUInt16LE(0x3c);
  const section = (i: number) => {
    const o = shoff + i * shentsize;
    return {
      type: elf.readUInt32LE(o + 4),
      addr: Number(elf.readBigUInt64LE(o + 16)),
      offset: Number(elf.readBigUInt64LE(o + 24)),
      size: Number(elf.readBigUInt64LE(o + 32)),
      link: elf.readUInt32LE(o + 40),
    };
  };
  for (let s = 0; s < shnum; s++) {
    const symtab = section(s);
    if (symtab.type !== 2) continue; // SHT_SYMTAB: gone from a stripped binary
    const strtab = section(symtab.link);
    for (let o = symtab.offset; o < symtab.offset + symtab.size; o += 24) {
      const nameAt = strtab.offset + elf.readUInt32LE(o);
      if (elf[nameAt] !== 0x69 /* i */) continue;
      const symbol = elf.toString('latin1', nameAt, elf.indexOf(0, nameAt));
      if (!/^icudt\d+_dat$/.test(symbol)) continue;
      const home = section(elf.readUInt16LE(o + 6));
      return { offset: Number(elf.readBigUInt64LE(o + 8)) - home.addr + home.offset, size: Number(elf.readBigUInt64LE(o + 16)), symbol };
    }
  }
  throw new Error('no icudt*_dat symbol: a stripped binary, or Node built without full ICU');
}

/** The binary with its ICU package trimmed in place and zero-padded to the same size. */
export function trimNodeIcu(
  binary: Buffer,
  keep: ReadonlySet<string> = KEPT_LOCALES,
): { binary: Buffer; before: number; after: number; items: [number, number] } {
  const { offset, size } = findIcuData(binary);
  const pkg = binary.subarray(offset, offset + size);
  const trimmed = trimIcuPackage(pkg, keep);
  const out = Buffer.from(binary);
  out.fill(0, offset, offset + size);
  trimmed.copy(out, offset);
  return { binary: out, before: size, after: trimmed.length, items: [listIcuPackage(pkg).length, listIcuPackage(trimmed).length] };
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const [input, output] = process.argv.slice(2);
  if (!input || !output) {
    console.error('usage: tsx scripts/gpu-check/icu-trim.ts IN OUT');
    process.exit(2);
  }
  const r = trimNodeIcu(readFileSync(input));
  writeFileSync(output, r.binary);
  chmodSync(output, 0o755);
  console.log(
    `ICU data: ${r.items[0]} items, ${(r.before / 1e6).toFixed(1)} MB → ${r.items[1]} items, ${(r.after / 1e6).toFixed(1)} MB (root and English locales)`,
  );
}
