/**
 * A small parser for the Dockerfile instructions this project uses, and a .dockerignore matcher, so
 * tests can check the image and replay its build without a Docker engine. Anything else (another
 * instruction, COPY --chown, a shell-form CMD, wildcards, ...) is refused rather than half-understood:
 * extend the parser when the Dockerfile needs more.
 */
import { posix } from 'node:path';

export interface CopyStep {
  kind: 'copy';
  /** The stage copied from (`--from`), or undefined for the build context. */
  from?: string;
  sources: string[];
  dest: string;
  /** The stage's WORKDIR when the step runs (absolute). */
  workdir: string;
}

export interface RunStep {
  kind: 'run';
  /** Shell form: run as `sh -c <command>`. */
  command: string;
  workdir: string;
  /** The stage's ENV when the step runs. */
  env: Record<string, string>;
}

export interface Healthcheck {
  /** --interval, --timeout, --start-period, --retries, ... as written. */
  options: Record<string, string>;
  /** Exec form. */
  command: string[];
}

export interface Stage {
  name: string;
  /** The base image. */
  image: string;
  steps: (CopyStep | RunStep)[];
  /** The WORKDIR at the end of the stage (absolute; '/' when never set). */
  workdir: string;
  env: Record<string, string>;
  user?: string;
  expose: number[];
  healthcheck?: Healthcheck;
  cmd?: string[];
}

/** Instructions with continuation lines joined and comment lines (and parser directives) dropped. */
function instructions(text: string): { keyword: string; args: string; line: number }[] {
  const result: { keyword: string; args: string; line: number }[] = [];
  let pending = '';
  let start = 0;
  text.split('\n').forEach((raw, index) => {
    const line = raw.trimEnd();
    // Docker drops comment lines even in the middle of a continued instruction.
    if (/^\s*#/.test(line) || (line.trim() === '' && pending === '')) return;
    if (pending === '') start = index + 1;
    if (line.endsWith('\\')) {
      pending += `${line.slice(0, -1)} `;
      return;
    }
    pending += line;
    const match = /^\s*(\w+)\s+([\s\S]*)$/.exec(pending);
    if (!match) throw new Error(`Dockerfile line ${start}: cannot read "${pending}"`);
    result.push({ keyword: match[1].toUpperCase(), args: match[2].trim(), line: start });
    pending = '';
  });
  if (pending !== '') throw new Error('Dockerfile ends inside a continued instruction');
  return result;
}

/** Exec form: a JSON array of strings. */
function execForm(args: string, where: string): string[] {
  let parsed: unknown;
  try {
    parsed = JSON.parse(args);
  } catch {
    throw new Error(`${where}: only the exec form (a JSON array) is supported, got ${args}`);
  }
  if (!Array.isArray(parsed) || parsed.length === 0 || !parsed.every((part) => typeof part === 'string')) {
    throw new Error(`${where}: expected a non-empty JSON array of strings`);
  }
  return parsed;
}

/** Leading `--name=value` flags, and what follows them. */
function flags(args: string): { options: Record<string, string>; rest: string } {
  const options: Record<string, string> = {};
  let rest = args;
  for (let match = /^--([\w-]+)=(\S+)\s*/.exec(rest); match; match = /^--([\w-]+)=(\S+)\s*/.exec(rest)) {
    options[match[1]] = match[2];
    rest = rest.slice(match[0].length);
  }
  return { options, rest };
}

/** `ENV NAME=value NAME2="value 2"` (the legacy `ENV NAME value` form is refused). */
function envPairs(args: string, where: string): Record<string, string> {
  const pairs: Record<string, string> = {};
  const pattern = /([A-Za-z_][A-Za-z0-9_]*)=("(?:[^"\\]|\\.)*"|\S*)\s*/y;
  let index = 0;
  while (index < args.length) {
    pattern.lastIndex = index;
    const match = pattern.exec(args);
    if (!match) throw new Error(`${where}: expected NAME=value pairs, got ${args}`);
    pairs[match[1]] = match[2].startsWith('"') ? match[2].slice(1, -1).replace(/\\(.)/g, '$1') : match[2];
    index = pattern.lastIndex;
  }
  return pairs;
}

export function parseDockerfile(text: string): Stage[] {
  const stages: Stage[] = [];
  for (const { keyword, args, line } of instructions(text)) {
    const where = `Dockerfile line ${line} (${keyword})`;
    if (keyword === 'FROM') {
      const match = /^(\S+)(?:\s+AS\s+(\S+))?$/i.exec(args);
      if (!match || match[1].startsWith('--')) throw new Error(`${where}: expected "FROM image [AS name]"`);
      stages.push({ name: match[2] ?? String(stages.length), image: match[1], steps: [], workdir: '/', env: {}, expose: [] });
      continue;
    }
    const stage = stages.at(-1);
    if (!stage) throw new Error(`${where}: before any FROM`);
    switch (keyword) {
      case 'WORKDIR':
        stage.workdir = posix.resolve(stage.workdir, args);
        break;
      case 'COPY': {
        const { options, rest } = flags(args);
        const unknown = Object.keys(options).filter((name) => name !== 'from');
        if (unknown.length > 0) throw new Error(`${where}: unsupported flags ${unknown.join(', ')}`);
        if (rest.startsWith('[')) throw new Error(`${where}: the JSON form is not supported`);
        const paths = rest.split(/\s+/);
        if (paths.length < 2) throw new Error(`${where}: expected sources and a destination`);
        if (paths.some((part) => /[*?[]/.test(part))) throw new Error(`${where}: wildcards are not supported`);
        stage.steps.push({ kind: 'copy', from: options.from, sources: paths.slice(0, -1), dest: paths.at(-1)!, workdir: stage.workdir });
        break;
      }
      case 'RUN':
        if (args.startsWith('[') || args.startsWith('--')) throw new Error(`${where}: only the shell form without flags is supported`);
        stage.steps.push({ kind: 'run', command: args, workdir: stage.workdir, env: { ...stage.env } });
        break;
      case 'ENV':
        Object.assign(stage.env, envPairs(args, where));
        break;
      case 'USER':
        stage.user = args;
        break;
      case 'EXPOSE':
        stage.expose.push(
          ...args.split(/\s+/).map((port) => {
            const match = /^(\d+)(\/tcp)?$/.exec(port);
            if (!match) throw new Error(`${where}: expected TCP ports, got ${port}`);
            return Number(match[1]);
          }),
        );
        break;
      case 'HEALTHCHECK': {
        const { options, rest } = flags(args);
        const match = /^CMD\s+([\s\S]+)$/.exec(rest);
        if (!match) throw new Error(`${where}: expected "HEALTHCHECK [options] CMD [...]"`);
        stage.healthcheck = { options, command: execForm(match[1], where) };
        break;
      }
      case 'CMD':
        stage.cmd = execForm(args, where);
        break;
      default:
        throw new Error(`${where}: instruction not supported by this parser`);
    }
  }
  if (stages.length === 0) throw new Error('Dockerfile has no FROM');
  return stages;
}

/** Glob to regular expression, Go filepath.Match style as .dockerignore uses it: * and ? stay within a segment, ** spans segments. */
function globToRegExp(glob: string): RegExp {
  let source = '';
  for (let index = 0; index < glob.length; index++) {
    const char = glob[index];
    if (char === '*' && glob[index + 1] === '*') {
      index++;
      // `**/` is any number of folders, none included; a `**` elsewhere is anything.
      if (glob[index + 1] === '/') {
        source += '(?:.*/)?';
        index++;
      } else source += '.*';
    } else if (char === '*') source += '[^/]*';
    else if (char === '?') source += '[^/]';
    else source += char.replace(/[.+^${}()|[\]\\]/g, '\\$&');
  }
  return new RegExp(`^${source}$`);
}

/**
 * Whether .dockerignore keeps `relativePath` (posix, relative to the context) out of the context: the
 * last pattern matching the path or one of its parent folders decides, `!` patterns let it back in.
 */
export function dockerignore(text: string): (relativePath: string) => boolean {
  const rules = text
    .split('\n')
    .map((line) => line.trim())
    .filter((line) => line && !line.startsWith('#'))
    .map((line) => {
      const exclude = !line.startsWith('!');
      const pattern = posix.normalize((exclude ? line : line.slice(1)).trim()).replace(/^\/+|\/+$/g, '');
      return { exclude, pattern: globToRegExp(pattern) };
    });
  return (relativePath) => {
    const parts = posix.normalize(relativePath).split('/');
    const candidates = parts.map((_, index) => parts.slice(0, index + 1).join('/'));
    let ignored = false;
    for (const rule of rules) {
      if (candidates.some((candidate) => rule.pattern.test(candidate))) ignored = rule.exclude;
    }
    return ignored;
  };
}
