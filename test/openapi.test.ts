import { readFileSync } from 'node:fs';
import path from 'node:path';
import SwaggerParser from '@apidevtools/swagger-parser';
import { createApp } from '../src/app';
import { parseInput } from '../src/models/api.model';
import { OPERATIONS } from '../src/openapi';
import { appRoutes } from './support/routes';
import { startStack, type TestStack } from './support/stack';

const openApiPath = (path: string) => path.replace(/:(\w+)/g, '{$1}');

/** A copy of the document without what the JSON pointers name (RFC 6901: `~1` is `/`); each must be there. */
function without(doc: unknown, pointers: string[]): unknown {
  const copy = structuredClone(doc);
  for (const pointer of pointers) {
    const keys = pointer
      .split('/')
      .slice(1)
      .map((key) => key.replace(/~1/g, '/').replace(/~0/g, '~'));
    const last = keys.pop()!;
    let parent = copy as Record<string, unknown>;
    for (const key of keys) parent = parent[key] as Record<string, unknown>;
    expect(`${pointer}: ${last in parent ? 'present' : 'missing'}`).toBe(`${pointer}: present`);
    delete parent[last];
  }
  return copy;
}

describe('the OpenAPI description', () => {
  let stack: TestStack;
  let document: {
    openapi: string;
    paths: Record<string, Record<string, { requestBody?: { content: Record<string, { example?: unknown }> } }>>;
  };
  beforeAll(async () => {
    stack = await startStack();
    document = (await stack.anonymous().get('/openapi.json').expect(200).expect('Content-Type', /json/)).body as typeof document;
  });
  afterAll(async () => {
    await stack.close();
  });

  it('is valid OpenAPI 3.1', async () => {
    expect(document.openapi).toBe('3.1.0');
    await expect(SwaggerParser.validate(structuredClone(document) as never)).resolves.toBeDefined();
  });

  it('says what it said before the redesign of issue 17 (test/fixtures/openapi-before-redesign.json), but where listed here', () => {
    const before = JSON.parse(readFileSync(path.join(__dirname, 'fixtures', 'openapi-before-redesign.json'), 'utf8')) as unknown;
    // What changed on purpose, by JSON pointer, each with why.
    const changed: Record<string, string> = {
      '/components/schemas/Error/properties/code': 'the codes are one list now (ERROR_CODES): the description names each one',
      '/paths/~1config/get/responses/200/description': 'the client reads the layouts, presets and room statuses from the service',
    };
    expect(without(document, Object.keys(changed))).toEqual(without(before, Object.keys(changed)));
  });

  it('describes every route the app serves, and nothing else', () => {
    const routes = appRoutes(createApp(stack.services)).map((route) => {
      const [method, path] = route.split(' ');
      return `${method} ${openApiPath(path)}`;
    });
    const described = Object.entries(document.paths).flatMap(([path, operations]) =>
      Object.keys(operations).map((method) => `${method.toUpperCase()} ${path}`),
    );
    expect(routes.length).toBeGreaterThan(20);
    expect([...new Set(routes)].sort()).toEqual([...new Set(described)].sort());
  });

  it('gives examples that pass the validators the service uses', () => {
    const withExamples = OPERATIONS.filter((operation) => operation.body || operation.queryExample);
    expect(withExamples.length).toBeGreaterThan(10);
    for (const operation of withExamples) {
      const where = `${operation.method.toUpperCase()} ${operation.path}`;
      if (operation.body) {
        expect(`${where}: ${operation.bodyExample === undefined ? 'no example' : 'example'}`).toBe(`${where}: example`);
        expect(() => parseInput(operation.body!, operation.bodyExample)).not.toThrow();
        // The description carries the same example.
        const described = document.paths[openApiPath(operation.path)][operation.method].requestBody!.content['application/json'].example;
        expect(described).toEqual(operation.bodyExample);
      }
      if (operation.queryExample) expect(() => parseInput(operation.query!, operation.queryExample)).not.toThrow();
    }
  });

  it("serves its reading page and the page's assets from the service itself", async () => {
    const page = await stack.anonymous().get('/docs').expect(200).expect('Content-Type', /html/);
    expect(page.text).toContain('/docs/assets/swagger-ui-bundle.js');
    expect(page.headers['content-security-policy']).toContain("script-src 'self'");
    await stack
      .anonymous()
      .get('/docs/assets/swagger-ui-bundle.js')
      .expect(200)
      .expect('Content-Type', /javascript/);
    await stack.anonymous().get('/docs/docs.js').expect(200);
  });

  // Issue 15 (11): the dependency's whole folder (its README, package.json, demo pages) is not ours to publish.
  it('serves nothing under /docs but the files its page uses', async () => {
    for (const used of ['/docs', '/docs/docs.js', '/docs/assets/swagger-ui.css', '/docs/assets/swagger-ui-bundle.js']) {
      await stack.anonymous().get(used).expect(200);
    }
    for (const other of [
      '/docs/index.html',
      '/docs/assets/package.json',
      '/docs/assets/README.md',
      '/docs/assets/index.html',
      '/docs/assets/oauth2-redirect.html',
      '/docs/assets/swagger-initializer.js',
      '/docs/assets/swagger-ui-bundle.js.map',
      '/docs/assets/',
    ]) {
      const res = await stack.anonymous().get(other);
      expect(`${other} ${res.status}`).toBe(`${other} 404`);
    }
  });
});
