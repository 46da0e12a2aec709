import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { isDeepStrictEqual } from 'node:util';
import { parse as parseDotenv } from 'dotenv';
import { ConfigError, envSchema, loadConfig } from '../src/config';

/**
 * `.env.example` and README's configuration table against the schema in src/config.ts, so none of
 * the three drifts: the same settings, in the same order, with the schema's own defaults. Each
 * check collects one line per problem, naming the setting, and expects none.
 */

const root = join(__dirname, '..');
const exampleText = readFileSync(join(root, '.env.example'), 'utf8');
const readmeText = readFileSync(join(root, 'README.md'), 'utf8');

const schemaKeys = Object.keys(envSchema.shape);
const defaults: Record<string, unknown> = envSchema.parse({});
const show = (value: unknown) => (value === undefined ? 'undefined' : JSON.stringify(value));

interface ExampleEntry {
  key: string;
  /** Set (`KEY=value`) or commented out (`# KEY=`). */
  commented: boolean;
  /** As written after `=`; for set entries the value the service sees is dotenv's (`exampleValues`). */
  written: string;
  line: number;
  /** The comment lines right above the entry. */
  comment: string[];
}

/** Each line is blank, a comment, `KEY=value`, or a setting commented out as `# KEY=`. */
function readExample(text: string): { entries: ExampleEntry[]; strayLines: string[] } {
  const entries: ExampleEntry[] = [];
  const strayLines: string[] = [];
  let comment: string[] = [];
  text.split(/\r?\n/).forEach((raw, index) => {
    const line = raw.trimEnd();
    const set = /^([A-Za-z_][A-Za-z0-9_]*)=(.*)$/.exec(line);
    const commentedOut = /^#\s?([A-Z][A-Z0-9_]*)=(.*)$/.exec(line);
    const entry = set ?? commentedOut;
    if (entry) {
      entries.push({ key: entry[1], commented: !set, written: entry[2], line: index + 1, comment });
      comment = [];
    } else if (line.startsWith('#')) {
      comment.push(line);
    } else if (line === '') {
      comment = [];
    } else {
      strayLines.push(`.env.example line ${index + 1} is neither a comment nor KEY=value: ${line}`);
    }
  });
  return { entries, strayLines };
}

interface ReadmeRow {
  key: string;
  defaultCell: string;
  meaning: string;
}

/** The rows of the `| variable | default | meaning |` table under "## Configuration". */
function readReadmeTable(text: string): { rows: ReadmeRow[]; problems: string[] } {
  const lines = text.split(/\r?\n/);
  const start = lines.findIndex((line) => line.trim() === '## Configuration');
  if (start < 0) return { rows: [], problems: ['README has no "## Configuration" section'] };
  const nextHeading = lines.findIndex((line, index) => index > start && /^#{1,2} /.test(line));
  const section = lines.slice(start + 1, nextHeading < 0 ? undefined : nextHeading);
  const header = section.findIndex((line) => /^\|\s*variable\s*\|\s*default\s*\|\s*meaning\s*\|$/.test(line.trim()));
  if (header < 0) return { rows: [], problems: ['README\'s "## Configuration" has no "| variable | default | meaning |" table'] };
  const rows: ReadmeRow[] = [];
  const problems: string[] = [];
  for (const line of section.slice(header + 2)) {
    if (!line.trim().startsWith('|')) break;
    const cells = line
      .trim()
      .replace(/^\|/, '')
      .replace(/\|$/, '')
      .split(/(?<!\\)\|/)
      .map((cell) => cell.trim());
    const name = /^`([A-Z][A-Z0-9_]*)`$/.exec(cells[0]);
    if (!name) {
      problems.push(`README row "${cells[0]}": the first column must name exactly one variable, as \`NAME\``);
      continue;
    }
    if (cells.length !== 3) {
      problems.push(`${name[1]}: README row has ${cells.length} columns, not 3 (variable, default, meaning)`);
      continue;
    }
    if (!cells[1] || !cells[2]) problems.push(`${name[1]}: README row has an empty default or meaning`);
    rows.push({ key: name[1], defaultCell: cells[1], meaning: cells[2] });
  }
  return { rows, problems };
}

/** One problem per missing, unknown or repeated key. */
function sameKeys(keys: string[], where: string): string[] {
  const problems: string[] = [];
  for (const key of schemaKeys) if (!keys.includes(key)) problems.push(`${key}: in envSchema but not in ${where}`);
  for (const key of new Set(keys)) {
    if (!schemaKeys.includes(key)) problems.push(`${key}: in ${where} but not in envSchema`);
    const count = keys.filter((other) => other === key).length;
    if (count > 1) problems.push(`${key}: ${count} times in ${where}`);
  }
  return problems;
}

const example = readExample(exampleText);
const exampleValues = parseDotenv(exampleText);
const readme = readReadmeTable(readmeText);
const entryOf = new Map(example.entries.map((entry) => [entry.key, entry]));
/** A deployment's own keys: what production refuses to start without. */
const PRODUCTION_KEYS: [string, string][] = [
  ['LIVEKIT_API_KEY', 'APIdeploymentkey'],
  ['LIVEKIT_API_SECRET', 'the-livekit-secret-of-this-deployment'],
  ['ADMIN_API_KEY', 'the-admin-key-of-this-deployment'],
  ['MEDIA_URL_SIGNING_KEY', 'the-media-url-signing-key-of-this-deployment'],
];

describe('.env.example and the README configuration table', () => {
  it('.env.example lists every setting of envSchema exactly once, each with a comment saying what it means', () => {
    const problems = [
      ...example.strayLines,
      ...sameKeys(
        example.entries.map((entry) => entry.key),
        '.env.example',
      ),
    ];
    for (const entry of example.entries) {
      if (entry.comment.length === 0) problems.push(`${entry.key}: no comment right above it (.env.example line ${entry.line})`);
    }
    expect(problems).toEqual([]);
    // What the service reads (dotenv) is what this test reads: the set entries, nothing else.
    expect(Object.keys(exampleValues)).toEqual(example.entries.filter((entry) => !entry.commented).map((entry) => entry.key));
  });

  it("README's configuration table lists every setting of envSchema exactly once, in .env.example's order", () => {
    const keys = readme.rows.map((row) => row.key);
    const problems = [...readme.problems, ...sameKeys(keys, "README's configuration table")];
    expect(problems).toEqual([]);
    // The order is compared once both hold the same settings (the test above checks .env.example's).
    const exampleKeys = example.entries.map((entry) => entry.key);
    if (sameKeys(exampleKeys, '.env.example').length > 0) return;
    const firstDifference = keys.findIndex((key, index) => key !== exampleKeys[index]);
    const order =
      firstDifference < 0
        ? []
        : [
            `${keys[firstDifference]}: row ${firstDifference + 1} of README's table, where .env.example has ${exampleKeys[firstDifference]}`,
          ];
    expect(order).toEqual([]);
  });

  it("each value set in .env.example is the schema's default; only settings without a default are commented out", () => {
    const problems: string[] = [];
    for (const entry of example.entries) {
      if (!schemaKeys.includes(entry.key)) continue;
      const fallback = defaults[entry.key];
      if (entry.commented) {
        if (fallback !== undefined) problems.push(`${entry.key}: commented out, but envSchema's default is ${show(fallback)}: set it`);
        if (entry.written !== '')
          problems.push(`${entry.key}: commented out with a value; write "# ${entry.key}=" and give examples in the comment`);
        continue;
      }
      const value = exampleValues[entry.key];
      if (fallback === undefined) {
        problems.push(`${entry.key}=${value}: envSchema has no default for it, so .env.example must leave it commented out`);
        continue;
      }
      const parsed = envSchema.safeParse({ [entry.key]: value });
      if (!parsed.success) {
        problems.push(`${entry.key}=${value}: refused by envSchema (${parsed.error.issues.map((issue) => issue.message).join('; ')})`);
      } else if (!isDeepStrictEqual((parsed.data as Record<string, unknown>)[entry.key], fallback)) {
        problems.push(
          `${entry.key}=${value}: parses to ${show((parsed.data as Record<string, unknown>)[entry.key])}, but envSchema's default is ${show(fallback)}`,
        );
      }
    }
    expect(problems).toEqual([]);
  });

  it("README's default column says what .env.example sets", () => {
    // A default cell that starts with a backticked value is that literal value, unless it names another
    // setting (`S3_ENDPOINT`, `LIVEKIT_URL` as ws://): then, like "(none)" or "derived from …", the
    // setting has no literal default and .env.example leaves it commented out or empty.
    const problems: string[] = [];
    for (const row of readme.rows) {
      const entry = entryOf.get(row.key);
      if (!entry) continue;
      const leading = /^`([^`]*)`/.exec(row.defaultCell)?.[1];
      const literal = leading !== undefined && !schemaKeys.includes(leading) ? leading : undefined;
      const value = entry.commented ? '' : exampleValues[row.key];
      if (value !== '') {
        if (literal === undefined)
          problems.push(`${row.key}: README's default "${row.defaultCell}" does not start with \`${value}\`, .env.example's value`);
        else if (literal !== value) problems.push(`${row.key}: README's default is \`${literal}\`, .env.example's is \`${value}\``);
      } else if (literal !== undefined) {
        problems.push(
          `${row.key}: README's default is \`${literal}\`, but .env.example ${entry.commented ? 'leaves it unset' : 'leaves it empty'}`,
        );
      }
    }
    expect(problems).toEqual([]);
  });

  it('is what `npm start` needs: alone it is refused, naming the settings it marks as required in production', () => {
    let refused: string[] = [];
    try {
      loadConfig(exampleValues);
    } catch (error) {
      if (error instanceof ConfigError) refused = error.problems.map((line) => line.split(':')[0]);
    }
    expect(refused).toEqual(PRODUCTION_KEYS.map(([key]) => key));
    const marked = example.entries.filter((entry) =>
      /Required in production(?! when)/.test(entry.comment.join(' ').replace(/\s*#\s*/g, ' ')),
    );
    expect(marked.map((entry) => ({ key: entry.key, commented: entry.commented }))).toEqual(
      refused.map((key) => ({ key, commented: true })),
    );
  });

  it('loadConfig takes the whole of .env.example, with those keys set, as its environment, and it changes nothing', () => {
    const keys = Object.fromEntries(PRODUCTION_KEYS);
    let config: ReturnType<typeof loadConfig> | undefined;
    expect(() => {
      config = loadConfig({ ...exampleValues, ...keys });
    }).not.toThrow();
    const plain = loadConfig(keys);
    const changes = Object.entries(exampleValues)
      .filter(([key, value]) => !isDeepStrictEqual(loadConfig({ ...keys, [key]: value }), plain))
      .map(([key, value]) => `${key}=${value}: gives a configuration other than the defaults`);
    expect(changes).toEqual([]);
    expect(config).toEqual(plain);
  });
});
