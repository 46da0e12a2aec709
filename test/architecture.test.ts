import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import ts from 'typescript';

const SRC = path.join(__dirname, '..', 'src');

function sourceFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const full = path.join(dir, entry.name);
    return entry.isDirectory() ? sourceFiles(full) : entry.name.endsWith('.ts') ? [full] : [];
  });
}

/** The files of src a file imports, type-only imports and re-exports included. */
function importsOf(file: string): string[] {
  const { importedFiles } = ts.preProcessFile(readFileSync(file, 'utf8'), true, true);
  return importedFiles
    .map(({ fileName }) => fileName)
    .filter((spec) => spec.startsWith('.'))
    .map((spec) => path.resolve(path.dirname(file), spec))
    .map((base) => [`${base}.ts`, path.join(base, 'index.ts')].find((candidate) => existsSync(candidate) && statSync(candidate).isFile()))
    .filter((target): target is string => target !== undefined);
}

/** Every import cycle, each as the files around it (relative to src), found by depth-first search. */
function importCycles(files: string[]): string[][] {
  const graph = new Map(files.map((file) => [file, importsOf(file)]));
  const cycles: string[][] = [];
  const done = new Set<string>();
  const visit = (file: string, trail: string[]) => {
    const at = trail.indexOf(file);
    if (at >= 0) {
      cycles.push([...trail.slice(at), file].map((f) => path.relative(SRC, f)));
      return;
    }
    if (done.has(file)) return;
    for (const next of graph.get(file) ?? []) visit(next, [...trail, file]);
    done.add(file);
  };
  for (const file of files) visit(file, []);
  return cycles;
}

describe('the shape of the code', () => {
  it('has no import cycles in src, not even through type-only imports', () => {
    expect(importCycles(sourceFiles(SRC))).toEqual([]);
  });

  it('gives each feature folder of src/services an index that says in one line what it owns', () => {
    const services = path.join(SRC, 'services');
    const folders = readdirSync(services, { withFileTypes: true }).filter((entry) => entry.isDirectory());
    expect(folders.length).toBeGreaterThanOrEqual(8);
    for (const { name } of folders) {
      const index = path.join(services, name, 'index.ts');
      const firstLine = existsSync(index) ? readFileSync(index, 'utf8').split('\n')[0] : '(no index.ts)';
      expect(`${name}: ${/^\/\*\* \S.* \*\/$/.test(firstLine) ? 'one line' : firstLine}`).toBe(`${name}: one line`);
    }
  });
});
