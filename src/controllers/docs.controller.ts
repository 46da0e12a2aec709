import { readFileSync } from 'node:fs';
import path from 'node:path';
import { Router } from 'express';
import { notFoundHandler } from '../middlewares/error.middleware';
import { openApiDocument } from '../openapi';

const ROOT = path.resolve(__dirname, '..', '..');
const VERSION = (JSON.parse(readFileSync(path.join(ROOT, 'package.json'), 'utf8')) as { version: string }).version;
/** Swagger UI's browser build, served from our own dependencies (no CDN). */
const SWAGGER_UI_DIR = path.dirname(require.resolve('swagger-ui-dist/package.json'));
/** The files the page loads, and nothing else under /docs (not the rest of the dependency's folder). */
const PAGE_FILES: Record<string, string> = {
  '/docs.js': path.join(ROOT, 'public', 'docs', 'docs.js'),
  '/assets/swagger-ui.css': path.join(SWAGGER_UI_DIR, 'swagger-ui.css'),
  '/assets/swagger-ui-bundle.js': path.join(SWAGGER_UI_DIR, 'swagger-ui-bundle.js'),
};

/** GET /openapi.json (generated once from the request schemas) and its reading page at /docs. */
export function docsController(): Router {
  const router = Router();
  const document = JSON.stringify(openApiDocument(VERSION));
  router.get('/openapi.json', (_req, res) => {
    res.type('application/json').send(document);
  });
  router.get('/docs', (_req, res) => {
    // Swagger UI sets style attributes as it renders: this page alone allows inline styles (never scripts).
    res.set(
      'Content-Security-Policy',
      "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; object-src 'none'; base-uri 'self'; form-action 'self'; frame-ancestors 'none'",
    );
    res.sendFile(path.join(ROOT, 'public', 'docs', 'index.html'));
  });
  router.use('/docs', (req, res, next) => {
    const file = req.method === 'GET' || req.method === 'HEAD' ? PAGE_FILES[req.path] : undefined;
    if (file) res.sendFile(file);
    else notFoundHandler(req, res, next);
  });
  return router;
}
