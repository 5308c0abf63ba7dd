// Reads infra/*.tf through @cdktf/hcl2json and gives the tests three things:
// the declarations (what a name can refer to), every expression with the
// context it sits in (count, for_each, dynamic iterators), and the references
// each expression makes, found by walking hcl2json's expression AST.
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { getExpressionAst, parse } from '@cdktf/hcl2json';

export type Json = null | boolean | number | string | Json[] | { [key: string]: Json };
export type Body = { [key: string]: Json };

/** The AST node shape @cdktf/hcl2json returns (its own types are not exported from the package root). */
export interface AstNode {
  type: string;
  children: AstNode[];
  range: { start: { byte: number }; end: { byte: number } };
  meta?: {
    value?: string;
    type?: string;
    name?: string;
    operator?: string;
    keyVar?: string;
    valVar?: string;
    keyExpression?: string;
    conditionalExpression?: string;
    traversal?: { type: 'nameTraversal' | 'indexTraversal'; segment: string }[];
  };
}

export interface TfFile {
  name: string;
  content: string;
  json: Record<string, Json>;
}

export interface Block {
  file: string;
  address: string;
  body: Body;
}

export interface Declarations {
  variables: Map<string, Block>;
  locals: Map<string, { file: string; value: Json }>;
  resources: Map<string, Block>;
  data: Map<string, Block>;
  outputs: Map<string, Block>;
  modules: Map<string, Block>;
  duplicates: string[];
}

/** Where an expression sits: what `count.`, `each.` and dynamic-block iterators mean there. */
export interface Context {
  file: string;
  /** Human-readable path, e.g. `aws_ecs_service.service_a.load_balancer`. */
  path: string;
  hasCount: boolean;
  hasForEach: boolean;
  iterators: ReadonlySet<string>;
}

export interface Expression {
  source: string;
  context: Context;
}

export interface Reference {
  /** Name and index segments of the traversal, e.g. ['aws_lb', 'service_a', '[0]', 'dns_name']. */
  segments: string[];
  text: string;
  context: Context;
}

export async function loadTerraformFiles(dir: string): Promise<TfFile[]> {
  const names = readdirSync(dir)
    .filter((name) => name.endsWith('.tf'))
    .sort();
  const files: TfFile[] = [];
  for (const name of names) {
    const content = readFileSync(join(dir, name), 'utf8');
    files.push({ name, content, json: (await parse(name, content)) as Record<string, Json> });
  }
  return files;
}

function isBody(value: Json | undefined): value is Body {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** hcl2json gives a block as an array of bodies (one per repeated block). */
export function blocks(value: Json | undefined): Body[] {
  if (value === undefined || value === null) return [];
  if (!Array.isArray(value)) throw new Error(`expected a block list, got ${JSON.stringify(value)}`);
  return value.filter(isBody);
}

/** The single body of a block that must appear once, e.g. `metadata_options`. */
export function block(value: Json | undefined, what: string): Body {
  const list = blocks(value);
  if (list.length !== 1) throw new Error(`expected exactly one ${what} block, found ${list.length}`);
  return list[0] as Body;
}

export function declarations(files: TfFile[]): Declarations {
  const decl: Declarations = {
    variables: new Map(),
    locals: new Map(),
    resources: new Map(),
    data: new Map(),
    outputs: new Map(),
    modules: new Map(),
    duplicates: [],
  };
  const add = (map: Map<string, Block>, address: string, file: string, body: Body) => {
    if (map.has(address)) decl.duplicates.push(`${address} (${map.get(address)?.file} and ${file})`);
    map.set(address, { file, address, body });
  };
  for (const { name: file, json } of files) {
    for (const [kind, value] of Object.entries(json)) {
      if (kind === 'locals') {
        for (const body of blocks(value)) {
          for (const [local, expr] of Object.entries(body)) {
            if (decl.locals.has(local)) decl.duplicates.push(`local.${local} (${file})`);
            decl.locals.set(local, { file, value: expr });
          }
        }
        continue;
      }
      if (!isBody(value)) continue;
      if (kind === 'resource' || kind === 'data') {
        for (const [type, byName] of Object.entries(value)) {
          if (!isBody(byName)) continue;
          for (const [name, list] of Object.entries(byName)) {
            const target = kind === 'resource' ? decl.resources : decl.data;
            add(target, `${type}.${name}`, file, block(list, `${kind} ${type}.${name}`));
          }
        }
      } else if (kind === 'variable' || kind === 'output' || kind === 'module') {
        const target = { variable: decl.variables, output: decl.outputs, module: decl.modules }[kind];
        for (const [name, list] of Object.entries(value))
          add(target, name, file, block(list, `${kind} ${name}`));
      }
    }
  }
  return decl;
}

// ---------------------------------------------------------------------------
// Templates: hcl2json writes every non-literal attribute as a string with
// `${...}` interpolations around the original expression text.

export type TemplatePart = { kind: 'literal'; text: string } | { kind: 'expression'; source: string };

/** Splits a hcl2json string into literal text and `${...}` expression sources (`$${` is an escaped `${`). */
export function splitTemplate(input: string): TemplatePart[] {
  const parts: TemplatePart[] = [];
  let literal = '';
  let i = 0;
  while (i < input.length) {
    if (input.startsWith('$${', i) || input.startsWith('%%{', i)) {
      literal += input.slice(i + 1, i + 3);
      i += 3;
    } else if (input.startsWith('%{', i)) {
      throw new Error(`template directives (%{...}) are not supported by these tests: ${input}`);
    } else if (input.startsWith('${', i)) {
      const end = matchingBrace(input, i + 2);
      if (literal) parts.push({ kind: 'literal', text: literal });
      literal = '';
      parts.push({ kind: 'expression', source: input.slice(i + 2, end).trim() });
      i = end + 1;
    } else {
      literal += input[i];
      i += 1;
    }
  }
  if (literal) parts.push({ kind: 'literal', text: literal });
  return parts;
}

/** Index of the `}` closing an interpolation whose expression starts at `from`; skips quoted strings. */
function matchingBrace(input: string, from: number): number {
  // A stack of modes: 'code' inside an expression, 'string' inside a quoted string (which may nest ${...}).
  const stack: ('code' | 'string')[] = ['code'];
  let depth = 0;
  const depths: number[] = [];
  for (let i = from; i < input.length; i += 1) {
    const ch = input[i];
    const mode = stack[stack.length - 1];
    if (mode === 'string') {
      if (ch === '\\') i += 1;
      else if (ch === '"') stack.pop();
      else if (input.startsWith('$${', i)) i += 2;
      else if (input.startsWith('${', i)) {
        stack.push('code');
        depths.push(depth);
        depth = 0;
        i += 1;
      }
      continue;
    }
    const heredoc = /^<<-?([A-Za-z_][A-Za-z0-9_-]*)\r?\n/.exec(input.slice(i, i + 80));
    if (heredoc) {
      // Skip to the closing marker line: a heredoc's text is not code.
      const end = new RegExp(`\\n[ \\t]*${heredoc[1]}[ \\t]*(?=\\r?\\n|$)`).exec(input.slice(i));
      if (!end) throw new Error(`unterminated heredoc in: ${input}`);
      i += end.index + end[0].length - 1;
      continue;
    }
    if (ch === '"') stack.push('string');
    else if (ch === '{') depth += 1;
    else if (ch === '}') {
      if (depth > 0) depth -= 1;
      else if (stack.length === 1) return i;
      else {
        stack.pop();
        depth = depths.pop() ?? 0;
      }
    }
  }
  throw new Error(`unterminated interpolation in: ${input}`);
}

// ---------------------------------------------------------------------------
// Expressions and references

const META_ARGUMENTS_WITHOUT_REFERENCES = new Set(['ignore_changes']);

/** Every expression in the configuration, with the context that gives `count`, `each` and iterators their meaning. */
export function expressions(files: TfFile[]): Expression[] {
  const found: Expression[] = [];
  const visit = (value: Json | undefined, context: Context): void => {
    if (typeof value === 'string') {
      for (const part of splitTemplate(value)) {
        if (part.kind === 'expression') found.push({ source: part.source, context });
      }
    } else if (Array.isArray(value)) {
      value.forEach((item) => visit(item, context));
    } else if (isBody(value)) {
      visitBody(value, context);
    }
  };
  const visitBody = (body: Body, context: Context): void => {
    for (const [key, value] of Object.entries(body)) {
      if (META_ARGUMENTS_WITHOUT_REFERENCES.has(key)) continue;
      const here = { ...context, path: `${context.path}.${key}` };
      if (key === 'dynamic' && isBody(value)) {
        for (const [label, list] of Object.entries(value)) {
          for (const dyn of blocks(list)) {
            visit(dyn.for_each, { ...here, path: `${here.path}.${label}.for_each` });
            const iterator = typeof dyn.iterator === 'string' ? dyn.iterator : label;
            const inner = {
              ...here,
              path: `${here.path}.${label}`,
              iterators: new Set([...context.iterators, iterator]),
            };
            blocks(dyn.content).forEach((content) => visitBody(content, inner));
          }
        }
      } else {
        visit(value, here);
      }
    }
  };
  const root = (file: string, path: string, body: Body): Context => ({
    file,
    path,
    hasCount: body.count !== undefined,
    hasForEach: body.for_each !== undefined,
    iterators: new Set(),
  });
  for (const { name: file, json } of files) {
    const decl = declarations([{ name: file, content: '', json }]);
    for (const [local, { value }] of decl.locals) visit(value, root(file, `local.${local}`, {}));
    for (const [name, { body }] of decl.variables) {
      // `type` is a type constraint, not an expression that refers to anything.
      const rest = Object.fromEntries(Object.entries(body).filter(([key]) => key !== 'type'));
      visitBody(rest, root(file, `var.${name}`, {}));
    }
    for (const [address, { body }] of decl.resources) visitBody(body, root(file, address, body));
    for (const [address, { body }] of decl.data) visitBody(body, root(file, `data.${address}`, body));
    for (const [name, { body }] of decl.outputs) visitBody(body, root(file, `output.${name}`, {}));
    for (const [name, { body }] of decl.modules) visitBody(body, root(file, `module.${name}`, body));
    for (const kind of ['provider', 'terraform']) {
      const value = json[kind];
      if (value !== undefined) visit(value, root(file, kind, {}));
    }
  }
  return found;
}

export async function expressionAst(source: string): Promise<AstNode> {
  const ast = (await getExpressionAst('expression.tf', source)) as AstNode | null;
  if (!ast) throw new Error(`could not parse expression: ${source}`);
  return ast;
}

function traversalSegments(node: AstNode): string[] {
  return (node.meta?.traversal ?? []).map((part) =>
    part.type === 'indexTraversal' ? `[${part.segment}]` : part.segment,
  );
}

/** Every traversal that starts at a global name, i.e. every reference, minus `for` expression variables. */
export function referencesInAst(
  node: AstNode,
  context: Context,
  shadowed: ReadonlySet<string> = new Set(),
): Reference[] {
  if (node.type === 'scopeTraversal') {
    const segments = traversalSegments(node);
    if (segments.length === 0 || shadowed.has(segments[0] as string)) return [];
    return [{ segments, text: node.meta?.value ?? segments.join('.'), context }];
  }
  if (node.type === 'for') {
    const [collection, ...rest] = node.children;
    const inner = new Set([...shadowed, node.meta?.keyVar ?? '', node.meta?.valVar ?? ''].filter(Boolean));
    return [
      ...(collection ? referencesInAst(collection, context, shadowed) : []),
      ...rest.flatMap((child) => referencesInAst(child, context, inner)),
    ];
  }
  return node.children.flatMap((child) => referencesInAst(child, context, shadowed));
}

export async function references(files: TfFile[]): Promise<Reference[]> {
  const found: Reference[] = [];
  for (const expression of expressions(files)) {
    found.push(...referencesInAst(await expressionAst(expression.source), expression.context));
  }
  return found;
}

/** Why a reference does not resolve, or null when it does. */
export function unresolved(ref: Reference, decl: Declarations): string | null {
  const [root = '', first, second] = ref.segments;
  const where = `${ref.text} in ${ref.context.path} (${ref.context.file})`;
  const needs = (ok: boolean, why: string) => (ok ? null : `${where}: ${why}`);
  switch (root) {
    case 'var':
      return needs(first !== undefined && decl.variables.has(first), 'no such variable');
    case 'local':
      return needs(first !== undefined && decl.locals.has(first), 'no such local value');
    case 'data':
      return needs(decl.data.has(`${first}.${second}`), 'no such data source');
    case 'module':
      return needs(first !== undefined && decl.modules.has(first), 'no such module');
    case 'count':
      return needs(ref.context.hasCount && first === 'index', 'count.index outside a block with count');
    case 'each':
      return needs(
        ref.context.hasForEach && (first === 'key' || first === 'value'),
        'each.* outside a block with for_each',
      );
    case 'path':
      return needs(['module', 'root', 'cwd'].includes(first ?? ''), 'unknown path.* attribute');
    case 'terraform':
      return needs(first === 'workspace', 'unknown terraform.* attribute');
    case 'self':
      return `${where}: self is only valid in provisioners`;
    default:
      break;
  }
  if (ref.context.iterators.has(root)) {
    return needs(first === 'key' || first === 'value', 'a dynamic block iterator has only .key and .value');
  }
  const resource = decl.resources.get(`${root}.${first}`);
  if (!resource) return `${where}: no such resource (or unknown name "${root}")`;
  // A resource with count or for_each is a collection: it must be indexed (or
  // used whole, as in `for_each = aws_x.y` or `aws_x.y[*]`); one without must not.
  const repeated = resource.body.count !== undefined || resource.body.for_each !== undefined;
  const indexed = second?.startsWith('[') ?? false;
  if (repeated && second !== undefined && !indexed)
    return `${where}: ${root}.${first} has count/for_each: index it`;
  if (!repeated && indexed) return `${where}: ${root}.${first} has no count/for_each: it cannot be indexed`;
  return null;
}
