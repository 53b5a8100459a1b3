/**
 * Test-side reading of Kafka's message schemas, written independently of the generator: builds a
 * populated message for one version (what a caller encodes) and the message a decoder must return
 * (the same, with fields absent in that version at their defaults).
 */
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const REPO_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
export const SCHEMA_DIR = path.resolve(
  process.env.KAFKA_PROTOCOL_SCHEMAS ?? path.join(REPO_ROOT, '../shared/kafka-protocol/message'),
);

export function requireSchemaDir(): string {
  if (!fs.existsSync(SCHEMA_DIR)) {
    throw new Error(`Kafka's message schemas are not at ${SCHEMA_DIR}; set KAFKA_PROTOCOL_SCHEMAS`);
  }
  return SCHEMA_DIR;
}

export interface FieldSchema {
  name: string;
  type: string;
  versions: string;
  nullableVersions?: string;
  taggedVersions?: string;
  tag?: number;
  default?: string | number | boolean;
  fields?: FieldSchema[];
}

export interface MessageSchema {
  name: string;
  type: string;
  apiKey?: number;
  validVersions: string;
  flexibleVersions?: string;
  fields: FieldSchema[];
  commonStructs?: { name: string; fields: FieldSchema[] }[];
}

export function loadSchema(name: string): MessageSchema {
  const text = fs.readFileSync(path.join(requireSchemaDir(), `${name}.json`), 'utf8');
  // Line comments only ever start a line or follow JSON punctuation in these files; URLs sit in strings.
  const json = text
    .split('\n')
    .map((line) => (/^\s*\/\//.test(line) ? '' : line.replace(/([,{}[\]])\s*\/\/.*$/, '$1')))
    .join('\n');
  return JSON.parse(json) as MessageSchema;
}

export function listSchemas(): MessageSchema[] {
  return fs
    .readdirSync(requireSchemaDir())
    .filter((f) => f.endsWith('.json'))
    .map((f) => loadSchema(f.slice(0, -5)));
}

interface Range {
  lo: number;
  hi: number;
}

export function range(spec: string | undefined): Range | null {
  if (spec === undefined || spec === 'none') return null;
  if (spec.endsWith('+')) return { lo: Number(spec.slice(0, -1)), hi: Infinity };
  const [a, b] = spec.split('-');
  return { lo: Number(a), hi: Number(b ?? a) };
}

function within(spec: string | undefined, v: number): boolean {
  const r = range(spec);
  return r !== null && v >= r.lo && v <= r.hi;
}

function overlap(a: Range | null, b: Range | null): Range | null {
  if (!a || !b) return null;
  const lo = Math.max(a.lo, b.lo);
  const hi = Math.min(a.hi, b.hi);
  return lo <= hi ? { lo, hi } : null;
}

const PRIMITIVES = new Set(['int8', 'int16', 'uint16', 'int32', 'uint32', 'int64', 'float64', 'bool', 'uuid', 'string', 'bytes', 'records']);

const lowerFirst = (s: string): string => s[0]!.toLowerCase() + s.slice(1);

/** Builds messages of one schema over the versions `gen` (the range the codecs were generated for). */
export class MessageFixture {
  private readonly hulls = new Map<string, Range>();
  private readonly structs = new Map<string, FieldSchema[]>();
  private seed = 1;

  constructor(
    readonly schema: MessageSchema,
    readonly gen: Range,
  ) {
    for (const c of schema.commonStructs ?? []) this.structs.set(c.name, c.fields);
    this.walk(schema.fields, gen);
  }

  private structName(f: FieldSchema): string {
    return f.type.replace(/^\[\]/, '');
  }

  private walk(fields: FieldSchema[], hull: Range): void {
    for (const f of fields) {
      const iv = overlap(range(f.versions), hull);
      if (!iv || PRIMITIVES.has(this.structName(f))) continue;
      const name = this.structName(f);
      if (f.fields) this.structs.set(name, f.fields);
      const old = this.hulls.get(name);
      this.hulls.set(name, old ? { lo: Math.min(old.lo, iv.lo), hi: Math.max(old.hi, iv.hi) } : iv);
      this.walk(this.structs.get(name)!, iv);
    }
  }

  /** The fields a struct's interface has: those existing somewhere in the struct's hull. */
  private fieldsOf(fields: FieldSchema[], hull: Range): FieldSchema[] {
    return fields.filter((f) => overlap(range(f.versions), hull) !== null);
  }

  private hullOf(f: FieldSchema): Range {
    return this.hulls.get(this.structName(f))!;
  }

  /**
   * `input`: every field set, absent ones to non-default junk the encoder must skip; nullable fields
   * null when `nulls`. `expected`: what decoding the encoded input must give.
   */
  build(version: number, nulls: boolean): { input: Record<string, unknown>; expected: Record<string, unknown> } {
    this.seed = 1;
    return this.struct(this.schema.fields, this.gen, version, nulls, true);
  }

  private struct(
    fields: FieldSchema[],
    hull: Range,
    version: number,
    nulls: boolean,
    present: boolean,
  ): { input: Record<string, unknown>; expected: Record<string, unknown> } {
    const input: Record<string, unknown> = {};
    const expected: Record<string, unknown> = {};
    for (const f of this.fieldsOf(fields, hull)) {
      const prop = lowerFirst(f.name);
      const exists = present && within(f.versions, version);
      if (exists) {
        const nullable = within(f.nullableVersions, version);
        if (nulls && nullable) {
          input[prop] = null;
          expected[prop] = null;
          continue;
        }
        const v = this.value(f, version, nulls);
        input[prop] = v.input;
        expected[prop] = v.expected;
      } else {
        expected[prop] = this.defaultOf(f);
        input[prop] = this.junk(f, version, nulls);
      }
    }
    return { input, expected };
  }

  private one(f: FieldSchema, version: number, nulls: boolean): { input: unknown; expected: unknown } {
    const s = this.seed++;
    const base = this.structName(f);
    switch (base) {
      case 'int8':
        return same((s % 200) - 100);
      case 'int16':
        return same(-(s * 97) % 30000);
      case 'uint16':
        return same(65535 - s);
      case 'int32':
        return same(-2_000_000_000 + s * 7919);
      case 'uint32':
        return same(4_000_000_000 + s);
      case 'int64':
        return same(-(2 ** 40) - s * 1_000_003);
      case 'float64':
        return same(s + 0.25);
      case 'bool':
        return same(s % 2 === 0);
      case 'uuid':
        return same(Buffer.from(Array.from({ length: 16 }, (_, i) => (s * 31 + i) & 0xff)));
      case 'string':
        return same(`tópico-☃-${s}`);
      case 'bytes':
        return same(Buffer.from([s & 0xff, 0, 0xff, 7]));
      case 'records':
        // Large enough to travel as its own part rather than being copied into the chunk.
        return same(Buffer.alloc(300 + s, s & 0xff));
      default: {
        const sf = this.structs.get(base)!;
        return this.struct(sf, this.hullOf(f), version, nulls, true);
      }
    }
  }

  private value(f: FieldSchema, version: number, nulls: boolean): { input: unknown; expected: unknown } {
    if (!f.type.startsWith('[]')) return this.one(f, version, nulls);
    const a = this.one(f, version, nulls);
    const b = this.one(f, version, nulls);
    return { input: [a.input, b.input], expected: [a.expected, b.expected] };
  }

  // A value for a field absent in this version; the encoder must not write it.
  private junk(f: FieldSchema, version: number, nulls: boolean): unknown {
    const base = this.structName(f);
    if (!PRIMITIVES.has(base)) {
      const sf = this.structs.get(base)!;
      const s = this.struct(sf, this.hullOf(f), version, nulls, false).input;
      return f.type.startsWith('[]') ? [s] : s;
    }
    if (f.type.startsWith('[]')) return [this.one(f, version, nulls).input];
    return this.one(f, version, nulls).input;
  }

  /** Kafka's defaults: the schema's, else the type's zero value (records: null). */
  defaultOf(f: FieldSchema): unknown {
    const d = f.default;
    if (d === 'null') return null;
    if (f.type.startsWith('[]')) return [];
    const base = this.structName(f);
    switch (base) {
      case 'bool':
        return d === true || d === 'true';
      case 'string':
        return d === undefined ? '' : String(d);
      case 'bytes':
        return Buffer.alloc(0);
      case 'records':
        return null;
      case 'uuid':
        return Buffer.alloc(16);
      case 'int8':
      case 'int16':
      case 'uint16':
      case 'int32':
      case 'uint32':
      case 'int64':
      case 'float64':
        return d === undefined || d === '' ? 0 : Number(d);
      default: {
        const sf = this.structs.get(base)!;
        const hull = this.hullOf(f);
        return Object.fromEntries(this.fieldsOf(sf, hull).map((x) => [lowerFirst(x.name), this.defaultOf(x)]));
      }
    }
  }
}

function same(v: unknown): { input: unknown; expected: unknown } {
  return { input: v, expected: v };
}
