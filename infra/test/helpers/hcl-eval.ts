// A small evaluator for the part of HCL these Terraform files use, so tests can
// check what Terraform would send (container definitions, user data) instead of
// grepping expression text. Values Terraform only knows after apply (resource
// attributes not set in the configuration, variables without a default) stay
// symbolic: an `Unknown`, or `${expression}` inside a string.
// Anything outside the supported subset throws, so a test fails loudly rather
// than passing on a value it did not understand.
import { AstNode, Body, Declarations, Json, expressionAst, splitTemplate } from './hcl';

export class Unknown {
  constructor(readonly expression: string) {}
  toString(): string {
    return `\${${this.expression}}`;
  }
}

export type Value = null | boolean | number | string | Unknown | Value[] | { [key: string]: Value };

export interface Scope {
  /** Values of `each.key`/`each.value`, `count.index` and `for` variables, by name. */
  names?: Record<string, Value>;
}

const isUnknown = (value: Value): value is Unknown => value instanceof Unknown;
const isMap = (value: Value): value is { [key: string]: Value } =>
  typeof value === 'object' && value !== null && !Array.isArray(value) && !isUnknown(value);

function asString(value: Value): string {
  if (typeof value === 'string') return value;
  if (typeof value === 'number' || typeof value === 'boolean') return String(value);
  if (isUnknown(value)) return value.toString();
  throw new Error(`cannot use ${JSON.stringify(value)} as a string`);
}

function asNumber(value: Value): number {
  const n = typeof value === 'number' ? value : typeof value === 'string' ? Number(value) : NaN;
  if (Number.isNaN(n)) throw new Error(`cannot use ${JSON.stringify(value)} as a number`);
  return n;
}

/** Decodes the escapes of a quoted HCL string's literal text (the parts between interpolations). */
function decodeQuoted(raw: string): string {
  return raw.replace(/\\(u[0-9a-fA-F]{4}|U[0-9a-fA-F]{8}|.)|\$\$\{|%%\{/g, (match, escape?: string) => {
    if (match === '$${') return '${';
    if (match === '%%{') return '%{';
    const simple: Record<string, string> = { n: '\n', r: '\r', t: '\t', '"': '"', '\\': '\\' };
    if (escape === undefined) return match;
    if (escape in simple) return simple[escape] as string;
    if (/^[uU]/.test(escape)) return String.fromCodePoint(parseInt(escape.slice(1), 16));
    throw new Error(`invalid escape \\${escape} in "${raw}"`);
  });
}

/** Plain JSON with unknowns written as `${expression}`, as the tests read it. */
export function toJson(value: Value): Json {
  if (isUnknown(value)) return value.toString();
  if (Array.isArray(value)) return value.map(toJson);
  if (isMap(value)) return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, toJson(v)]));
  return value;
}

/** Terraform's format() for the verbs this configuration uses. */
function format(spec: string, args: Value[]): string {
  let next = 0;
  return spec.replace(/%([%ds])/g, (_match, verb: string) => {
    if (verb === '%') return '%';
    const arg = args[next++];
    if (arg === undefined) throw new Error(`format("${spec}"): too few arguments`);
    return verb === 'd' ? String(Math.trunc(asNumber(arg))) : asString(arg);
  });
}

const FUNCTIONS: Record<string, (args: Value[]) => Value> = {
  jsonencode: ([value]) => JSON.stringify(toJson(value ?? null)),
  tostring: ([value]) => asString(value ?? null),
  tonumber: ([value]) => asNumber(value ?? null),
  format: ([spec, ...args]) => format(asString(spec ?? null), args),
  ceil: ([value]) => Math.ceil(asNumber(value ?? null)),
  floor: ([value]) => Math.floor(asNumber(value ?? null)),
  max: (args) => Math.max(...args.map(asNumber)),
  min: (args) => Math.min(...args.map(asNumber)),
  upper: ([value]) => asString(value ?? null).toUpperCase(),
  lower: ([value]) => asString(value ?? null).toLowerCase(),
  replace: ([value, search, replacement]) =>
    asString(value ?? null)
      .split(asString(search ?? null))
      .join(asString(replacement ?? null)),
  toset: ([value]) => {
    if (!Array.isArray(value)) throw new Error('toset() needs a list');
    return [...new Set(value.map((item) => JSON.stringify(toJson(item))))]
      .sort()
      .map((s) => JSON.parse(s) as Value);
  },
  merge: (args) => Object.assign({}, ...args.map((arg) => (isMap(arg) ? arg : {}))) as Value,
  base64encode: ([value]) => Buffer.from(asString(value ?? null)).toString('base64'),
};

const BINARY: Record<string, (a: Value, b: Value) => Value> = {
  add: (a, b) => asNumber(a) + asNumber(b),
  subtract: (a, b) => asNumber(a) - asNumber(b),
  multiply: (a, b) => asNumber(a) * asNumber(b),
  divide: (a, b) => asNumber(a) / asNumber(b),
  modulo: (a, b) => asNumber(a) % asNumber(b),
  equal: (a, b) => JSON.stringify(toJson(a)) === JSON.stringify(toJson(b)),
  notEqual: (a, b) => JSON.stringify(toJson(a)) !== JSON.stringify(toJson(b)),
  greaterThan: (a, b) => asNumber(a) > asNumber(b),
  greaterThanOrEqual: (a, b) => asNumber(a) >= asNumber(b),
  lessThan: (a, b) => asNumber(a) < asNumber(b),
  lessThanOrEqual: (a, b) => asNumber(a) <= asNumber(b),
  logicalAnd: (a, b) => a === true && b === true,
  logicalOr: (a, b) => a === true || b === true,
};

export class Evaluator {
  constructor(private readonly decl: Declarations) {}

  /** Evaluates a value as hcl2json gives it: literals, or strings holding `${...}` expressions. */
  async json(value: Json | undefined, scope: Scope = {}): Promise<Value> {
    if (value === undefined) throw new Error('no such attribute');
    if (typeof value === 'string') return this.template(value, scope);
    if (Array.isArray(value)) return Promise.all(value.map((item) => this.json(item, scope)));
    if (value !== null && typeof value === 'object') {
      const out: { [key: string]: Value } = {};
      for (const [key, item] of Object.entries(value)) out[key] = await this.json(item, scope);
      return out;
    }
    return value;
  }

  /** Evaluates one attribute of a block body. */
  async attribute(body: Body, name: string, scope: Scope = {}): Promise<Value> {
    if (!(name in body)) throw new Error(`attribute ${name} is not set`);
    return this.json(body[name], scope);
  }

  private async template(text: string, scope: Scope): Promise<Value> {
    const parts = splitTemplate(text);
    const only = parts[0];
    // "${expr}" alone keeps the expression's type, as in Terraform.
    if (parts.length === 1 && only?.kind === 'expression') return this.expression(only.source, scope);
    let out = '';
    for (const part of parts) {
      out += part.kind === 'literal' ? part.text : asString(await this.expression(part.source, scope));
    }
    return out;
  }

  async expression(source: string, scope: Scope = {}): Promise<Value> {
    return this.node(await expressionAst(source), Buffer.from(source), scope);
  }

  private async node(node: AstNode, source: Buffer, scope: Scope): Promise<Value> {
    const children = node.children;
    const all = () => Promise.all(children.map((child) => this.node(child, source, scope)));
    const text = node.meta?.value ?? '';
    switch (node.type) {
      case 'literalValue':
        if (node.meta?.type === 'number') return Number(text);
        if (node.meta?.type === 'bool') return text === 'true';
        if (node.meta?.type === 'string') return text;
        if (text === 'null') return null;
        throw new Error(`unsupported literal ${text}`);
      case 'templateWrap':
        return this.node(children[0] as AstNode, source, scope);
      case 'template':
        // hcl2json's literal parts are raw source text: decode them here.
        if (text.startsWith('<<')) return this.heredoc(text, scope);
        {
          let out = '';
          for (const child of children) {
            out +=
              child.type === 'literalValue'
                ? decodeQuoted(child.meta?.value ?? '')
                : asString(await this.node(child, source, scope));
          }
          return out;
        }
      case 'tuple':
        return all();
      case 'object': {
        const out: { [key: string]: Value } = {};
        for (let i = 0; i + 1 < children.length; i += 2) {
          const key = children[i] as AstNode;
          const name =
            key.children.length > 0
              ? asString(await this.node(key.children[0] as AstNode, source, scope))
              : source.subarray(key.range.start.byte, key.range.end.byte).toString();
          out[name] = await this.node(children[i + 1] as AstNode, source, scope);
        }
        return out;
      }
      case 'function': {
        const name = node.meta?.name ?? '';
        const fn = FUNCTIONS[name];
        if (!fn) throw new Error(`function ${name}() is not supported by the test evaluator`);
        const args = await all();
        if (name !== 'jsonencode' && args.some(isUnknown)) return new Unknown(text);
        return fn(args);
      }
      case 'binaryOp':
      case 'unaryOp': {
        const args = await all();
        if (args.some(isUnknown)) return new Unknown(text);
        const op = node.meta?.operator ?? '';
        if (op === 'negate') return -asNumber(args[0] ?? null);
        if (op === 'logicalNot') return args[0] !== true;
        const fn = BINARY[op];
        if (!fn) throw new Error(`operator ${op} is not supported by the test evaluator`);
        return fn(args[0] ?? null, args[1] ?? null);
      }
      case 'conditional': {
        const [condition, yes, no] = children as [AstNode, AstNode, AstNode];
        const test = await this.node(condition, source, scope);
        if (isUnknown(test)) return new Unknown(text);
        return this.node(test === true ? yes : no, source, scope);
      }
      case 'index': {
        const [collection, key] = await all();
        return this.index(collection ?? null, key ?? null, text);
      }
      case 'relativeTraversal': {
        const from = await this.node(children[0] as AstNode, source, scope);
        return this.traverse(from, node.meta?.traversal ?? [], text);
      }
      case 'scopeTraversal':
        return this.reference(node, scope);
      case 'for':
        return this.forExpression(node, source, scope);
      default:
        throw new Error(`expression type "${node.type}" is not supported by the test evaluator: ${text}`);
    }
  }

  /** A heredoc from its source text: `<<-` strips the smallest indentation of its lines, before interpolation. */
  private async heredoc(text: string, scope: Scope): Promise<Value> {
    const lines = text.split('\n');
    const flush = text.startsWith('<<-');
    const body = lines.slice(1, -1);
    const indent = flush
      ? Math.min(
          ...body
            .filter((line) => line.trim())
            .map((line) => (/^[ \t]*/.exec(line) as RegExpExecArray)[0].length),
        )
      : 0;
    const stripped = body.map((line) => line.slice(Math.min(indent, line.length))).join('\n') + '\n';
    let out = '';
    for (const part of splitTemplate(stripped)) {
      out += part.kind === 'literal' ? part.text : asString(await this.expression(part.source, scope));
    }
    return out;
  }

  private async forExpression(node: AstNode, source: Buffer, scope: Scope): Promise<Value> {
    const meta = node.meta ?? {};
    const isObject = Boolean(meta.keyExpression);
    const hasCondition = Boolean(meta.conditionalExpression);
    const [collectionNode, ...rest] = node.children;
    const keyNode = isObject ? rest.shift() : undefined;
    const valueNode = rest.shift();
    const conditionNode = hasCondition ? rest.shift() : undefined;
    if (!collectionNode || !valueNode) throw new Error(`malformed for expression: ${meta.value}`);
    const collection = await this.node(collectionNode, source, scope);
    if (isUnknown(collection)) return new Unknown(meta.value ?? '');
    const entries: [Value, Value][] = Array.isArray(collection)
      ? collection.map((item, i) => [i, item])
      : isMap(collection)
        ? Object.entries(collection)
        : [];
    const listOut: Value[] = [];
    const mapOut: { [key: string]: Value } = {};
    for (const [key, item] of entries) {
      const names: Record<string, Value> = { ...scope.names, [meta.valVar ?? '']: item };
      if (meta.keyVar) names[meta.keyVar] = key;
      const inner = { ...scope, names };
      if (conditionNode && (await this.node(conditionNode, source, inner)) !== true) continue;
      const value = await this.node(valueNode, source, inner);
      if (keyNode) mapOut[asString(await this.node(keyNode, source, inner))] = value;
      else listOut.push(value);
    }
    return isObject ? mapOut : listOut;
  }

  private async reference(node: AstNode, scope: Scope): Promise<Value> {
    const traversal = node.meta?.traversal ?? [];
    const text = node.meta?.value ?? '';
    const [root, first, ...rest] = traversal.map((part) => part.segment);
    const tail = traversal.slice(2);
    if (root !== undefined && scope.names && root in scope.names) {
      return this.traverse(scope.names[root] as Value, traversal.slice(1), text);
    }
    if (root === 'each' || root === 'count') {
      const name = `${root}.${first}`;
      if (scope.names && name in scope.names) return this.traverse(scope.names[name] as Value, tail, text);
      return new Unknown(text);
    }
    if (root === 'local') {
      const local = this.decl.locals.get(first ?? '');
      if (!local) throw new Error(`no such local: ${text}`);
      return this.traverse(await this.json(local.value), tail, text);
    }
    if (root === 'var') {
      const variable = this.decl.variables.get(first ?? '');
      if (!variable) throw new Error(`no such variable: ${text}`);
      if (!('default' in variable.body)) return new Unknown(text);
      return this.traverse(await this.json(variable.body.default), tail, text);
    }
    const resource = this.decl.resources.get(`${root}.${first}`);
    if (!resource) return new Unknown(text); // data sources, path.*, ...
    const [attribute] = rest;
    const repeated = resource.body.count !== undefined || resource.body.for_each !== undefined;
    const configured = attribute !== undefined ? resource.body[attribute] : undefined;
    // A resource attribute is known at plan time when the configuration sets it
    // (e.g. `name`), unless it is a nested block or the resource repeats.
    if (repeated || configured === undefined || Array.isArray(configured)) return new Unknown(text);
    return this.traverse(await this.json(configured), traversal.slice(3), text);
  }

  private traverse(from: Value, parts: { type: string; segment: string }[], text: string): Value {
    let value = from;
    for (const part of parts) value = this.index(value, part.segment, text);
    return value;
  }

  private index(collection: Value, key: Value, text: string): Value {
    if (isUnknown(collection) || isUnknown(key)) return new Unknown(text);
    if (Array.isArray(collection)) {
      const item = collection[asNumber(key)];
      if (item === undefined) throw new Error(`index ${String(key)} out of range in ${text}`);
      return item;
    }
    if (isMap(collection)) {
      const name = asString(key);
      if (!(name in collection)) throw new Error(`no key "${name}" in ${text}`);
      return collection[name] as Value;
    }
    throw new Error(`cannot index ${JSON.stringify(collection)} in ${text}`);
  }
}
