import type { Browser, Page } from 'playwright-core';
import { cspViolations, joinFromPage, launchChromium, openRoomPage } from '../support/browser';
import { completeRecording, uniqueRoom } from '../support/recordings';
import { startStack, type TestStack } from '../support/stack';

const listed = (page: Page) => page.locator('#recording-list .recording-name').allTextContents();

/** A data message as another person in the room could send it (LiveKit relays it with their identity). */
const fromParticipant = (page: Page, identity: string, recordingName: string, known: boolean) =>
  page.evaluate(([who, name, isKnown]) => {
    for (const fake of (window as any).__fakeLiveKit.rooms) {
      fake.receiveDataFrom(who, JSON.stringify({ recordingName: name }), 'RECORDING_DELETED', { known: isKnown });
    }
  }, [identity, recordingName, known] as const);

describe('what the room page trusts, in Chromium', () => {
  let stack: TestStack;
  let browser: Browser;
  beforeAll(async () => {
    stack = await startStack({ env: { NODE_ENV: 'test' } });
    browser = await launchChromium();
  });
  afterAll(async () => {
    await browser?.close();
    await stack?.close();
  });
  afterEach(() => expect(cspViolations).toEqual([]));

  it('removes a recording from the list on a RECORDING_DELETED from the server, never on one from a participant', async () => {
    const { roomName, name } = await completeRecording(stack, uniqueRoom('trusting'));
    const page = await openRoomPage(browser, stack);
    await joinFromPage(page, stack, roomName, 'Ivy', 'participant');
    await page.locator('#recording-list li.recording').waitFor();

    // Anyone in the room may publish data on any topic: a forged deletion notice changes nothing.
    await fromParticipant(page, 'mallory#0badc0de', name, true);
    await fromParticipant(page, 'newcomer#12345678', name, false);
    expect(await listed(page)).toEqual([name]);

    // The real deletion: the service tells the room (no participant), and the list follows.
    await stack.http().delete(`/recordings/${encodeURIComponent(name)}`).expect(200);
    await page.locator('#recording-list li.recording').waitFor({ state: 'detached' });
    await page.close();
  });
});
