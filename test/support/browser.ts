import { readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { type Browser, type Page, chromium } from 'playwright-core';
import type { TestStack } from './stack';
import type { TrackKind } from './livekit-double';

/** Debian's Chromium, headless, with the flags this machine needs and autoplay allowed. */
export function launchChromium(): Promise<Browser> {
  return chromium.launch({
    executablePath: process.env.CHROMIUM_PATH ?? '/usr/bin/chromium',
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-background-networking',
      '--disable-component-update',
      '--no-first-run',
      '--autoplay-policy=no-user-gesture-required',
    ],
  });
}

/** What the service's content security policy refused in any page (Chromium reports each on the console). */
export const cspViolations: string[] = [];

/** A page that gives up on a missing element well before the test's own time limit, saying which. */
export async function newPage(browser: Browser): Promise<Page> {
  const page = await browser.newPage({ viewport: { width: 1100, height: 900 } });
  page.setDefaultTimeout(10_000);
  page.on('console', (message) => {
    if (/Content Security Policy/i.test(message.text())) cspViolations.push(message.text());
  });
  return page;
}

/** A fake Room (test/support/fake-livekit-client.mjs) as a test drives it from outside. */
export interface FakeRoom {
  name: string;
  setMetadata(metadata: string): void;
  receiveData(text: string, topic?: string): void;
  receiveDataFrom(identity: string, text: string, topic: string | undefined, options?: { known?: boolean }): void;
  addRemoteParticipant(identity: string, name: string): void;
}

/** The page's window with what the fake livekit-client adds to it; cast `window` to it inside `page.evaluate`. */
export type FakeLiveKitWindow = typeof window & {
  __fakeLiveKit: { rooms: FakeRoom[] };
  /** Set by a test: the next camera and microphone request is refused, as by a person at the browser's prompt. */
  __fakeLiveKitMediaDenied?: boolean;
};

const FAKE_LIVEKIT_CLIENT = readFileSync(path.join(__dirname, 'fake-livekit-client.mjs'), 'utf8');

/**
 * A page whose livekit-client is the fake Room, wired to the LiveKit double: joining seats the
 * participant in the double's room, and the double's metadata changes and data messages reach
 * every fake room of that name as LiveKit's signalling would deliver them.
 */
export async function openRoomPage(browser: Browser, stack: TestStack): Promise<Page> {
  const page = await newPage(browser);
  await page.route('**/vendor/livekit-client/livekit-client.esm.mjs', (route) =>
    route.fulfill({ contentType: 'text/javascript', body: FAKE_LIVEKIT_CLIENT }),
  );
  await page.exposeFunction('__fakeLiveKitJoin', (roomName: string, identity: string, name: string) => {
    stack.livekit.addParticipant(roomName, { identity, name });
    return stack.livekit.getRoom(roomName)?.metadata ?? '';
  });
  await page.exposeFunction('__fakeLiveKitPublish', (roomName: string, identity: string, kinds: TrackKind[]) => {
    for (const kind of kinds) stack.livekit.publishTrack(roomName, identity, kind);
  });
  const forward = (script: (args: [string, string, string?]) => void, args: [string, string, string?]) =>
    page.evaluate(script, args).catch(() => undefined); // the page may have closed
  const onMetadata = (roomName: string, metadata: string) => {
    void forward(
      ([room, value]) => {
        for (const fake of (window as Partial<FakeLiveKitWindow>).__fakeLiveKit?.rooms ?? []) {
          if (fake.name === room) fake.setMetadata(value);
        }
      },
      [roomName, metadata],
    );
  };
  const onData = (roomName: string, packet: { payload: Buffer; topic?: string }) => {
    void forward(
      ([room, text, topic]) => {
        for (const fake of (window as Partial<FakeLiveKitWindow>).__fakeLiveKit?.rooms ?? []) {
          if (fake.name === room) fake.receiveData(text, topic);
        }
      },
      [roomName, packet.payload.toString('utf8'), packet.topic],
    );
  };
  stack.livekit.events.on('roomMetadataChanged', onMetadata);
  stack.livekit.events.on('dataReceived', onData);
  page.on('close', () => {
    stack.livekit.events.off('roomMetadataChanged', onMetadata);
    stack.livekit.events.off('dataReceived', onData);
  });
  await page.goto(`${stack.baseUrl}/`);
  return page;
}

/** The link the host application gives a person: the room page with a join token minted with its key. */
export async function joinLink(stack: TestStack, roomName: string, role: 'moderator' | 'participant' = 'moderator') {
  const { joinUrl } = (await stack.http().post('/join-tokens').send({ roomName, role }).expect(200)).body as { joinUrl: string };
  return `${stack.baseUrl}${joinUrl}`;
}

/** Follows a join link and joins under `participantName`. */
export async function joinFromPage(
  page: Page,
  stack: TestStack,
  roomName: string,
  participantName: string,
  role?: 'moderator' | 'participant',
) {
  const link = await joinLink(stack, roomName, role);
  await page.goto('about:blank'); // a fresh document, as a link opened from elsewhere would be
  await page.goto(link);
  await page.fill('#participant-name', participantName);
  await page.click('#join-button');
  await page.waitForSelector('#room:not([hidden])');
}

/** README's screenshots are refreshed with `UPDATE_SCREENSHOTS=1 npm test`; otherwise they go to a temp folder. */
export const SCREENSHOT_DIR = process.env.UPDATE_SCREENSHOTS
  ? path.join(__dirname, '..', '..', 'docs', 'screenshots')
  : path.join(tmpdir(), 'recording-manager-screenshots');
