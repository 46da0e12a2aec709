import { readFile } from 'node:fs/promises';
import path from 'node:path';
import type { Browser, Page } from 'playwright-core';
import type { Recording } from '../../src/services/recordings/recording.model';
import { mapConcurrent } from '../../src/services/platform/concurrency';
import { SCREENSHOT_DIR, cspViolations, joinFromPage, launchChromium, newPage, openRoomPage } from '../support/browser';
import { TEST_ADMIN_KEY } from '../support/service-process';
import { FIXTURE_MP4, completeRecording, putObject, uniqueRoom } from '../support/recordings';
import { startStack, type TestStack } from '../support/stack';
import { eventually } from '../support/eventually';

/** Finished recordings of earlier meetings, written as the service writes them, sharing one media file. */
async function seedArchive(stack: TestStack, count: number, roomName: string) {
  const mediaKey = 'recordings/archive-media.mp4';
  await putObject(stack, mediaKey, FIXTURE_MP4, 'video/mp4');
  await mapConcurrent(
    Array.from({ length: count }, (_, i) => i),
    8,
    async (i) => {
      const recording: Recording = {
        id: `EG_archive${String(i).padStart(4, '0')}`,
        name: `${roomName}-RM_archive-${i}.mp4`,
        roomName,
        roomId: 'RM_archive',
        status: 'COMPLETE',
        startedAt: Date.UTC(2026, 0, 1) + i * 60_000,
        endedAt: Date.UTC(2026, 0, 1) + i * 60_000 + 3000,
        duration: 3,
        size: FIXTURE_MP4.length,
        mediaKey,
        mediaVerified: true,
        updatedAt: 1,
      };
      await stack.services.store.save(recording, undefined);
    },
  );
}

const names = (page: Page) => page.locator('#recording-list .recording-name').allTextContents();

/** Opens the page as the host application: nothing is listed until its key is given. */
async function openAsHost(page: Page, stack: TestStack) {
  await page.goto(`${stack.baseUrl}/recordings.html`);
  await page.locator('#access-needed').waitFor();
  expect(await page.locator('#recording-list li').count()).toBe(0);
  await page.fill('#admin-key', TEST_ADMIN_KEY);
  await page.click('#access-button');
}

describe('the all-recordings page in Chromium', () => {
  let stack: TestStack;
  let browser: Browser;
  let recent: { roomName: string; name: string };
  beforeAll(async () => {
    // Media URLs live 6 s here, so the player's refresh can be watched.
    stack = await startStack({ env: { RECORDING_PLAYBACK_STRATEGY: 'PROXY', RECORDING_URL_TTL: '6s' } });
    browser = await launchChromium();
    await seedArchive(stack, 22, 'archive');
    recent = await completeRecording(stack, uniqueRoom('Design review'));
  });
  afterAll(async () => {
    await browser?.close();
    await stack?.close();
  });
  // The client works within the service's content security policy: nothing it does is refused.
  afterEach(() => expect(cspViolations).toEqual([]));

  it('drops a wrong host key so that the right one can be given', async () => {
    const page = await newPage(browser);
    await page.goto(`${stack.baseUrl}/recordings.html`);
    await page.fill('#admin-key', 'a-wrong-key-typed-by-mistake');
    await page.click('#access-button');
    await page.locator('#errors .error', { hasText: 'Cannot list recordings' }).waitFor();
    await page.locator('#admin-key').waitFor();
    await page.fill('#admin-key', TEST_ADMIN_KEY);
    await page.click('#access-button');
    await page.locator('#recording-list li').first().waitFor();
    await page.locator('#forget-key').click();
    await page.locator('#recording-list li').first().waitFor({ state: 'detached' });
    expect(await page.isVisible('#admin-key')).toBe(true);
    await page.close();
  });

  it('lists every recording newest first, a page at a time', async () => {
    const page = await newPage(browser);
    await openAsHost(page, stack);
    await page.locator('#recording-list li').nth(19).waitFor();
    expect(await page.locator('#recording-list li').count()).toBe(20);
    expect((await names(page))[0]).toBe(recent.name);
    await page.screenshot({ path: path.join(SCREENSHOT_DIR, 'recordings.png') });
    await page.click('#recording-more');
    await page.locator('#recording-list li').nth(22).waitFor();
    expect(await page.locator('#recording-list li').count()).toBe(23);
    expect(await page.isVisible('#recording-more')).toBe(false);
    expect(new Set(await names(page)).size).toBe(23);
    await page.close();
  });

  it('searches by room name, plays the recording and deletes it', async () => {
    const page = await newPage(browser);
    await openAsHost(page, stack);
    await page.fill('#search-room', recent.roomName);
    await page.click('#search-form button[type=submit]');
    await page.waitForFunction((name) => {
      const items = [...document.querySelectorAll('#recording-list .recording-name')].map((n) => n.textContent);
      return items.length === 1 && items[0] === name;
    }, recent.name);

    await page.click('#recording-list button.play');
    await page.waitForFunction(() => {
      const video = document.getElementById('player-video') as HTMLVideoElement;
      return video.currentTime > 0 && !video.paused && video.videoWidth === 320;
    });
    await page.click('#player-close');

    await page.click('#recording-list button.delete');
    await page.locator('#recording-list li').waitFor({ state: 'detached' });
    expect(await page.isVisible('#recording-empty')).toBe(true);
    await stack
      .http()
      .get(`/recordings/${encodeURIComponent(recent.name)}/info`)
      .expect(404);
    await page.close();
  });

  it('shows a participant the recordings of the rooms this tab joined, with only the buttons they may use', async () => {
    const { roomName, name } = await completeRecording(stack, uniqueRoom('Retro'));
    const page = await openRoomPage(browser, stack);
    await joinFromPage(page, stack, roomName, 'Erin', 'participant');
    expect(await page.isVisible('#recording-button')).toBe(false);
    await page.locator('#recording-list li.recording').waitFor();
    expect(await page.locator('#recording-list button.delete').count()).toBe(0);

    await page.goto(`${stack.baseUrl}/recordings.html`);
    expect(await page.inputValue('#access-select')).toBe(roomName);
    await page.waitForFunction((expected) => {
      const items = [...document.querySelectorAll('#recording-list .recording-name')].map((n) => n.textContent);
      return items.length === 1 && items[0] === expected;
    }, name);
    expect(await page.locator('#recording-list button.play').count()).toBe(1);
    expect(await page.locator('#recording-list button.delete').count()).toBe(0);
    expect(await page.isVisible('#search-form')).toBe(false);
    await page.close();
  });

  it('fetches a fresh media URL before the old one expires, so the video keeps loading and seeking', async () => {
    const page = await newPage(browser);
    await openAsHost(page, stack);
    await page.locator('#recording-list li').first().waitFor();
    await page.locator('#recording-list button.play').first().click();
    const first = await page.waitForFunction(() => (document.getElementById('player-video') as HTMLVideoElement).currentSrc || undefined);
    const firstUrl = (await first.jsonValue()) as string;
    const fresh = await page.waitForFunction(
      (old) => {
        const video = document.getElementById('player-video') as HTMLVideoElement;
        return video.currentSrc && video.currentSrc !== old && video.readyState >= 2 ? video.currentSrc : undefined;
      },
      firstUrl,
      { timeout: 8_000 },
    );
    const freshUrl = (await fresh.jsonValue()) as string;
    expect(new URL(freshUrl).pathname).toBe(new URL(firstUrl).pathname);

    // Once the first URL has expired it is refused, and the player, on the fresh one, still seeks.
    await eventually(async () => (await stack.anonymous().get(new URL(firstUrl).pathname + new URL(firstUrl).search)).status === 401, {
      timeoutMs: 8_000,
      what: 'the first URL expired',
    });
    const seeked = await page.evaluate(
      () =>
        new Promise<boolean>((resolve) => {
          const video = document.getElementById('player-video') as HTMLVideoElement;
          video.addEventListener('seeked', () => resolve(video.error === null), { once: true });
          video.currentTime = 0.5;
        }),
    );
    expect(seeked).toBe(true);
    await page.click('#player-close');
    await page.close();
  }, 30_000);

  it('downloads a recording under a readable name, and deletes several at once', async () => {
    const roomName = uniqueRoom('Bulk');
    const first = await completeRecording(stack, roomName);
    const second = await completeRecording(stack, roomName);
    const page = await newPage(browser);
    await openAsHost(page, stack);
    await page.fill('#search-room', roomName);
    await page.click('#search-form button[type=submit]');
    await page.locator('#recording-list li').nth(1).waitFor();

    const [download] = await Promise.all([page.waitForEvent('download'), page.locator('#recording-list button.download').first().click()]);
    expect(download.suggestedFilename()).toMatch(new RegExp(`^${roomName} \\d{4}-\\d{2}-\\d{2} \\d{2}\\.\\d{2}\\.mp4$`));
    expect((await readFile(await download.path())).equals(FIXTURE_MP4)).toBe(true);

    // Each list item shows its poster, fetched with the credential.
    await page.waitForFunction(
      () =>
        [...document.querySelectorAll('#recording-list img.thumb')].filter((img) => (img as HTMLImageElement).naturalWidth > 0).length ===
        2,
    );
    expect(
      await page
        .locator('#recording-list img.thumb')
        .first()
        .evaluate((img) => (img as HTMLImageElement).naturalWidth),
    ).toBe(320);

    expect(await page.isDisabled('#delete-selected')).toBe(true);
    for (const box of await page.locator('#recording-list input.select').all()) await box.check();
    expect(await page.textContent('#delete-selected')).toBe('Delete selected (2)');
    await page.click('#delete-selected');
    await page.locator('#recording-list li').first().waitFor({ state: 'detached' });
    for (const { name } of [first, second])
      await stack
        .http()
        .get(`/recordings/${encodeURIComponent(name)}/info`)
        .expect(404);
    await page.close();
  });

  it('shows an error to the person when the service cannot list', async () => {
    const page = await newPage(browser);
    // S3 refuses every listing attempt (the S3 client tries three times).
    for (let i = 0; i < 3; i++) {
      stack.s3Proxy.inject((method, p) => method === 'GET' && p === `/${stack.s3.bucket}/`, { kind: 'status', status: 503 });
    }
    await openAsHost(page, stack);
    await page.locator('#errors .error', { hasText: 'Cannot list recordings: S3 could not list' }).waitFor();
    await page.close();
  });
});
