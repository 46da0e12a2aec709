import type { Browser, Page } from 'playwright-core';
import { type FakeLiveKitWindow, cspViolations, joinFromPage, launchChromium, openRoomPage } from '../support/browser';
import { eventually } from '../support/eventually';
import { completeRecording, uniqueRoom } from '../support/recordings';
import { startStack, type TestStack } from '../support/stack';

const listed = (page: Page) => page.locator('#recording-list .recording-name').allTextContents();

/** A data message as another person in the room could send it (LiveKit relays it with their identity). */
const fromParticipant = (page: Page, identity: string, recordingName: string, known: boolean) =>
  page.evaluate(
    ([who, name, isKnown]) => {
      for (const fake of (window as FakeLiveKitWindow).__fakeLiveKit.rooms) {
        fake.receiveDataFrom(who, JSON.stringify({ recordingName: name }), 'RECORDING_DELETED', { known: isKnown });
      }
    },
    [identity, recordingName, known] as const,
  );

/** The service with `env`, and Chromium, for one describe block; no page may break the content security policy. */
function chromiumStack(env: Record<string, string>) {
  const context = {} as { stack: TestStack; browser: Browser };
  beforeAll(async () => {
    context.stack = await startStack({ env: { NODE_ENV: 'test', ...env } });
    context.browser = await launchChromium();
  });
  afterAll(async () => {
    await context.browser?.close();
    await context.stack?.close();
  });
  afterEach(() => expect(cspViolations).toEqual([]));
  return context;
}

describe('what the room page trusts, in Chromium', () => {
  const setup = chromiumStack({});

  it('removes a recording from the list on a RECORDING_DELETED from the server, never on one from a participant', async () => {
    const { roomName, name } = await completeRecording(setup.stack, uniqueRoom('trusting'));
    const page = await openRoomPage(setup.browser, setup.stack);
    await joinFromPage(page, setup.stack, roomName, 'Ivy', 'participant');
    await page.locator('#recording-list li.recording').waitFor();

    // Anyone in the room may publish data on any topic: a forged deletion notice changes nothing.
    await fromParticipant(page, 'mallory#0badc0de', name, true);
    await fromParticipant(page, 'newcomer#12345678', name, false);
    expect(await listed(page)).toEqual([name]);

    // The real deletion: the service tells the room (no participant), and the list follows.
    await setup.stack
      .http()
      .delete(`/recordings/${encodeURIComponent(name)}`)
      .expect(200);
    await page.locator('#recording-list li.recording').waitFor({ state: 'detached' });
    await page.close();
  });

  it("tells a moderator that the room's passcode is shorter than the rule, and a participant nothing", async () => {
    const roomName = uniqueRoom('weak');
    const { access } = setup.stack.services;
    // Set before passcodes needed 8 characters: it still admits, and its first use tells.
    await setup.stack.services.roomRecords.put({
      roomName,
      access: { passcodeHash: await access.hashPasscode('1234'), claimedAt: 1 },
      updatedAt: 1,
    });
    const guest = await openRoomPage(setup.browser, setup.stack);
    await guest.fill('#room-name', roomName);
    await guest.fill('#passcode', '1234');
    await guest.click('#join-button');
    await guest.waitForSelector('#room:not([hidden])');
    expect(await guest.isVisible('#short-passcode')).toBe(false);

    const moderator = await openRoomPage(setup.browser, setup.stack);
    await joinFromPage(moderator, setup.stack, roomName, 'Mo', 'moderator');
    await moderator.locator('#short-passcode', { hasText: 'The participant passcode of this room is shorter than 8 characters' }).waitFor();
    await guest.close();
    await moderator.close();
  });
});

describe('the room page renews its room token, in Chromium', () => {
  // Room tokens of one second: the service refuses them once its clock tolerance (10 s) is over.
  const setup = chromiumStack({ PARTICIPANT_TOKEN_TTL: '1s' });

  const heldTokens = (page: Page) =>
    page.evaluate(() => JSON.parse(sessionStorage.getItem('rooms') || '{}') as Record<string, { token: string }>);

  async function joinWithPasscode(page: Page, roomName: string, passcode: string) {
    await page.fill('#room-name', roomName);
    await page.fill('#participant-name', 'Quinn');
    await page.fill('#passcode', passcode);
    await page.click('#join-button');
    await page.waitForSelector('#room:not([hidden])');
  }

  /** Until the service refuses the room token the page holds. */
  async function untilRefused(page: Page, roomName: string) {
    const { token } = (await heldTokens(page))[roomName];
    await eventually(
      async () =>
        (await setup.stack.anonymous().get('/recordings').query({ roomName }).set('Authorization', `Bearer ${token}`)).status === 401,
      { what: 'the room token refused', timeoutMs: 20_000, intervalMs: 250 },
    );
  }

  const setPasscodes = (roomName: string, body: Record<string, string>) =>
    setup.stack
      .http()
      .put(`/rooms/${encodeURIComponent(roomName)}`)
      .send(body)
      .expect(200);

  /** A page per test below, each in its own room as a moderator by passcode, whose room token the service already refuses. */
  const refused = {} as Record<'renewing' | 'revoked' | 'left', { page: Page; roomName: string }>;
  beforeAll(async () => {
    const joined = async (name: keyof typeof refused, prepare: (roomName: string) => Promise<unknown> = () => Promise.resolve()) => {
      const roomName = uniqueRoom(name);
      await setPasscodes(roomName, { passcode: 'participants-code', moderatorPasscode: 'moderators-code' });
      const page = await openRoomPage(setup.browser, setup.stack);
      await joinWithPasscode(page, roomName, 'moderators-code');
      await prepare(roomName);
      refused[name] = { page, roomName };
    };
    await Promise.all([
      joined('renewing'),
      joined('revoked', (roomName) => setPasscodes(roomName, { moderatorPasscode: 'a-new-moderators-code' })),
      joined('left'),
    ]);
    // One wait for all of them: the slow part.
    await Promise.all(Object.values(refused).map(({ page, roomName }) => untilRefused(page, roomName)));
  }, 60_000);
  afterAll(async () => {
    await Promise.all(Object.values(refused).map(({ page }) => page.close()));
  });

  it('fetches a fresh room token with the passcode it was admitted with, which it keeps in memory only', async () => {
    const { page } = refused.renewing;
    const stored = await page.evaluate(() => JSON.stringify({ ...sessionStorage }) + JSON.stringify({ ...localStorage }));
    expect(stored).not.toContain('moderators-code');

    await page.click('#recording-button');
    await page.waitForSelector('#recording-button[data-status="STARTED"]', { timeout: 15_000 });
    expect(await page.locator('#errors .error').count()).toBe(0);
  });

  it('says so clearly when no fresh token can be had', async () => {
    const { page } = refused.revoked;
    await page.click('#recording-button');
    await page.locator('#errors .error', { hasText: 'Your access to this room has ended' }).waitFor();
    expect(await page.textContent('#errors')).toMatch(/The passcode is not right for this room.*join again/);
  });

  it('keeps the person out once they leave while the page renews its room token: no token comes back, nothing is started', async () => {
    const { page, roomName } = refused.left;
    // The service's answer to the renewal is held back until the person has left.
    let asked!: () => void;
    const renewalAsked = new Promise<void>((resolve) => {
      asked = resolve;
    });
    let answer!: () => void;
    const answerAllowed = new Promise<void>((resolve) => {
      answer = resolve;
    });
    await page.route('**/token', async (route) => {
      asked();
      await answerAllowed;
      await route.continue();
    });
    await page.click('#recording-button');
    await renewalAsked;
    await page.click('#leave-button');
    await page.waitForSelector('#join:not([hidden])');
    answer();

    // The start either gives up (and says why) or goes through with the fresh token.
    const started = page
      .waitForResponse((res) => res.url().endsWith('/recordings/start') && res.status() === 200)
      .then(
        () => 'started',
        () => 'neither',
      );
    const gaveUp = page
      .locator('#errors .error', { hasText: 'Cannot start the recording' })
      .waitFor()
      .then(
        () => 'gave up',
        () => 'neither',
      );
    expect(await Promise.race([started, gaveUp])).toBe('gave up');
    expect(Object.keys(await heldTokens(page))).not.toContain(roomName);
    expect(setup.stack.livekit.listEgresses().filter((egress) => egress.roomName === roomName)).toEqual([]);
  });

  it('drops the room token the tab held when the person leaves', async () => {
    const roomName = uniqueRoom('leaving');
    const page = await openRoomPage(setup.browser, setup.stack);
    await joinFromPage(page, setup.stack, roomName, 'Rae');
    expect(Object.keys(await heldTokens(page))).toContain(roomName);
    await page.click('#leave-button');
    await page.waitForSelector('#join:not([hidden])');
    expect(Object.keys(await heldTokens(page))).not.toContain(roomName);
    await page.close();
  });
});
