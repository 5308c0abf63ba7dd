// A JSON Schema validator for the keywords the Compose schemas use (the Compose
// Specification's, draft-07, and docker-compose 1.29's, draft-04): type, enum, const,
// properties, patternProperties, additionalProperties, required, items, uniqueItems,
// minimum, maximum, pattern, oneOf, anyOf, allOf, not and local $ref (#/definitions/...).
// Any other keyword throws, so a schema update that brings one is noticed instead of
// being passed over. `format` is checked only for the formats given by the caller (JSON
// Schema leaves format checking to the validator; docker-compose 1.29 checks three).

export type Schema = boolean | { [keyword: string]: unknown };

export interface SchemaError {
  /** JSON pointer of the offending value in the instance, `/` for the root. */
  path: string;
  message: string;
}

export interface ValidateOptions {
  /** Checks for `format` values; formats not listed here are not checked. */
  formats?: Record<string, (value: unknown) => boolean>;
}

/** Keywords that only annotate (JSON Schema core and validation vocabularies). */
const ANNOTATIONS = new Set([
  '$schema',
  '$id',
  'id', // draft-04's $id; the Compose schemas use it only on subschemas, fragment-only
  '$comment',
  'title',
  'description',
  'default',
  'deprecated',
  'examples',
  'definitions',
]);

const KNOWN = new Set([
  ...ANNOTATIONS,
  'type',
  'enum',
  'const',
  'properties',
  'patternProperties',
  'additionalProperties',
  'required',
  'items',
  'uniqueItems',
  'minimum',
  'maximum',
  'pattern',
  'format',
  'oneOf',
  'anyOf',
  'allOf',
  'not',
  '$ref',
]);

function typeOf(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'array';
  return typeof value; // 'object', 'string', 'number', 'boolean'
}

function hasType(value: unknown, type: string): boolean {
  if (type === 'integer') return Number.isInteger(value);
  return typeOf(value) === type;
}

/** Key-order-independent serialization, for enum/const/uniqueItems equality. */
function canonical(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonical).join(',')}]`;
  if (value !== null && typeof value === 'object') {
    const entries = Object.entries(value).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonical(v)}`).join(',')}}`;
  }
  return JSON.stringify(value);
}

function pointer(path: string, key: string | number): string {
  const escaped = String(key).replace(/~/g, '~0').replace(/\//g, '~1');
  return path === '/' ? `/${escaped}` : `${path}/${escaped}`;
}

/** Validates `value` against `root`; returns every error found (empty when valid). */
export function validate(root: Schema, value: unknown, options: ValidateOptions = {}): SchemaError[] {
  const formats = options.formats ?? {};
  const patterns = new Map<string, RegExp>();
  const regex = (source: string) => {
    let compiled = patterns.get(source);
    if (!compiled) {
      compiled = new RegExp(source, 'u');
      patterns.set(source, compiled);
    }
    return compiled;
  };

  function resolve(ref: string): Schema {
    if (!ref.startsWith('#/')) throw new Error(`unsupported $ref ${ref}: only local pointers`);
    let node: unknown = root;
    for (const raw of ref.slice(2).split('/')) {
      const key = decodeURIComponent(raw).replace(/~1/g, '/').replace(/~0/g, '~');
      node = (node as Record<string, unknown> | undefined)?.[key];
    }
    if (node === undefined) throw new Error(`$ref ${ref} points nowhere`);
    return node as Schema;
  }

  function check(schema: Schema, instance: unknown, path: string): SchemaError[] {
    if (schema === true) return [];
    if (schema === false) return [{ path, message: 'no value is allowed here' }];
    const errors: SchemaError[] = [];
    const fail = (message: string) => errors.push({ path, message });
    for (const keyword of Object.keys(schema)) {
      if (!KNOWN.has(keyword)) throw new Error(`unsupported schema keyword "${keyword}"`);
    }
    const s = schema as Record<string, unknown>;

    if (typeof s.$ref === 'string') errors.push(...check(resolve(s.$ref), instance, path));

    if (s.type !== undefined) {
      const types = Array.isArray(s.type) ? (s.type as string[]) : [s.type as string];
      if (!types.some((type) => hasType(instance, type))) {
        fail(`must be ${types.join(' or ')}, is ${typeOf(instance)}`);
        return errors; // the other keywords would only repeat the mismatch
      }
    }
    if (Array.isArray(s.enum) && !s.enum.some((v) => canonical(v) === canonical(instance))) {
      fail(`must be one of ${s.enum.map((v) => JSON.stringify(v)).join(', ')}`);
    }
    if ('const' in s && canonical(s.const) !== canonical(instance)) {
      fail(`must be ${JSON.stringify(s.const)}`);
    }

    if (typeof instance === 'string') {
      if (typeof s.pattern === 'string' && !regex(s.pattern).test(instance)) {
        fail(`must match ${s.pattern}`);
      }
    }
    if (typeof instance === 'number') {
      if (typeof s.minimum === 'number' && instance < s.minimum) fail(`must be >= ${s.minimum}`);
      if (typeof s.maximum === 'number' && instance > s.maximum) fail(`must be <= ${s.maximum}`);
    }
    if (typeof s.format === 'string') {
      const isValid = formats[s.format];
      if (isValid && !isValid(instance)) fail(`must be a valid "${s.format}"`);
    }

    if (Array.isArray(instance)) {
      if (s.items !== undefined) {
        if (Array.isArray(s.items)) throw new Error('tuple "items" is not supported');
        instance.forEach((item, i) => errors.push(...check(s.items as Schema, item, pointer(path, i))));
      }
      if (s.uniqueItems === true) {
        const seen = new Set<string>();
        instance.forEach((item, i) => {
          const key = canonical(item);
          if (seen.has(key)) errors.push({ path: pointer(path, i), message: 'duplicates an earlier item' });
          seen.add(key);
        });
      }
    }

    if (typeOf(instance) === 'object') {
      const object = instance as Record<string, unknown>;
      const properties = (s.properties ?? {}) as Record<string, Schema>;
      const patternProperties = (s.patternProperties ?? {}) as Record<string, Schema>;
      for (const name of (s.required ?? []) as string[]) {
        if (!(name in object)) fail(`must have property "${name}"`);
      }
      for (const [key, item] of Object.entries(object)) {
        const at = pointer(path, key);
        let matched = false;
        if (Object.hasOwn(properties, key)) {
          matched = true;
          errors.push(...check(properties[key] as Schema, item, at));
        }
        for (const [source, sub] of Object.entries(patternProperties)) {
          if (regex(source).test(key)) {
            matched = true;
            errors.push(...check(sub, item, at));
          }
        }
        if (!matched && s.additionalProperties !== undefined) {
          if (s.additionalProperties === false) {
            errors.push({ path: at, message: 'is not allowed here (unknown property)' });
          } else {
            errors.push(...check(s.additionalProperties as Schema, item, at));
          }
        }
      }
    }

    if (Array.isArray(s.allOf)) {
      for (const sub of s.allOf as Schema[]) errors.push(...check(sub, instance, path));
    }
    if (Array.isArray(s.anyOf)) {
      const results = (s.anyOf as Schema[]).map((sub) => check(sub, instance, path));
      if (!results.some((r) => r.length === 0)) errors.push(...closest(results, 'anyOf'));
    }
    if (Array.isArray(s.oneOf)) {
      const results = (s.oneOf as Schema[]).map((sub) => check(sub, instance, path));
      const passing = results.filter((r) => r.length === 0).length;
      if (passing === 0) errors.push(...closest(results, 'oneOf'));
      if (passing > 1) fail(`matches ${passing} of the oneOf alternatives, must match exactly one`);
    }
    if (s.not !== undefined && check(s.not as Schema, instance, path).length === 0) {
      fail('must not match the "not" schema');
    }
    return errors;

    /** When no alternative fits, the errors of the one that came closest explain best. */
    function closest(results: SchemaError[][], keyword: string): SchemaError[] {
      const best = results.reduce((a, b) => (b.length < a.length ? b : a));
      return [{ path, message: `matches none of the ${keyword} alternatives` }, ...best];
    }
  }

  return check(root, value, '/');
}
