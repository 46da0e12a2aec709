import path from 'node:path';
import type { Browser } from 'playwright-core';
import { SCREENSHOT_DIR, cspViolations, launchChromium, newPage } from '../support/browser';
import { startStack, type TestStack } from '../support/stack';

describe('the API docs page in Chromium', () => {
  let stack: TestStack;
  let browser: Browser;
  beforeAll(async () => {
    stack = await startStack();
    browser = await launchChromium();
  });
  afterAll(async () => {
    await browser?.close();
    await stack?.close();
  });

  it("renders every operation from /openapi.json with assets of its own, within the page's security policy", async () => {
    const page = await newPage(browser);
    const offsite: string[] = [];
    page.on('request', (request) => {
      if (!request.url().startsWith(stack.baseUrl) && !request.url().startsWith('data:')) offsite.push(request.url());
    });
    await page.goto(`${stack.baseUrl}/docs`);
    await page.locator('.opblock-summary-path', { hasText: '/recordings/start' }).first().waitFor();
    const operations = await page.locator('.opblock').count();
    const described = Object.values(
      ((await stack.anonymous().get('/openapi.json')).body as { paths: Record<string, object> }).paths,
    ).reduce((count: number, methods) => count + Object.keys(methods).length, 0);
    expect(operations).toBe(described);
    expect(offsite).toEqual([]);
    expect(cspViolations).toEqual([]);
    await page.screenshot({ path: path.join(SCREENSHOT_DIR, 'api-docs.png') });
    await page.close();
  });
});
