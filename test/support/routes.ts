import type { Express } from 'express';

interface RouteLayer {
  route?: { path: string; methods: Record<string, boolean> };
  handle?: { stack?: RouteLayer[] };
}

function routesOf(stack: RouteLayer[]): string[] {
  return stack.flatMap((layer) => {
    if (layer.route) return Object.keys(layer.route.methods).map((method) => `${method.toUpperCase()} ${layer.route!.path}`);
    return layer.handle?.stack ? routesOf(layer.handle.stack) : [];
  });
}

/** Every `METHOD /path` Express would route, read from the app's own route table (nested routers included). */
export const appRoutes = (app: Express): string[] => routesOf((app as unknown as { router: { stack: RouteLayer[] } }).router.stack);
