// Reads infra/*.tf through @cdktf/hcl2json for the static checks Terraform cannot
// make itself (what EC2 accepts in descriptions, what names AWS accepts): the
// declarations, and attribute strings split into literal text and `${...}`
// expressions. References, types and values are Terraform's job
// (`terraform validate`, `terraform test`: scripts/terraform-test.sh).
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse } from '@cdktf/hcl2json';

export type Json = null | boolean | number | string | Json[] | { [key: string]: Json };
export type Body = { [key: string]: Json };

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
