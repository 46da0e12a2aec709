import path from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { EgressStatus } from '@livekit/protocol';
import {
  type FakeLiveKitWindow,
  SCREENSHOT_DIR,
  cspViolations,
  joinFromPage,
  joinLink,
  launchChromium,
  openRoomPage,
} from '../support/browser';
import type { RecordingView } from '../../src/services/recordings/recording.model';
import { PRESETS } from '../../src/services/recordings/recording-options.model';
import { eventually } from '../support/eventually';
import { uniqueRoom } from '../support/recordings';
import { startStack, type TestStack } from '../support/stack';

const button = (page: Page) => page.locator('#recording-button');

async function expectButton(page: Page, status: string, label: string, enabled: boolean) {
  await page.waitForSelector(`#recording-button[data-status="${status}"]`);
  expect(await button(page).textContent()).toBe(label);
  expect(await button(page).isEnabled()).toBe(enabled);
}

/** The egress the service started for the room, as the double knows it. */
const egressOf = (stack: TestStack, roomName: string) =>
  eventually(() => stack.livekit.listEgresses().find((e) => e.roomName === roomName && e.status < EgressStatus.EGRESS_COMPLETE), {
    what: 'an active egress',
  });

describe('the room page in Chromium', () => {
  let stack: TestStack;
  let browser: Browser;
  beforeAll(async () => {
    // The reconciler runs only when a test asks for a pass.
    stack = await startStack({
      livekit: { lifecycle: 'manual' },
      env: { RECORDING_PLAYBACK_STRATEGY: 'PROXY', RECORDING_START_TIMEOUT: '1s' },
    });
    browser = await launchChromium();
  });
  afterAll(async () => {
    await browser?.close();
    await stack?.close();
  });
  // The client works within the service's content security policy: nothing it does is refused.
  afterEach(() => expect(cspViolations).toEqual([]));
  afterEach(() => stack.livekit.clearFaults());

  it('walks the recording button through STARTING → STARTED → STOPPING → STOPPED, plays and deletes for everyone', async () => {
    const roomName = uniqueRoom('Weekly sync');
    const alice = await openRoomPage(browser, stack);
    await joinFromPage(alice, stack, roomName, 'Alice');
    const bob = await openRoomPage(browser, stack);
    await joinFromPage(bob, stack, roomName, 'Bob');
    expect(await alice.textContent('#room-title')).toBe(roomName);
    await expectButton(alice, 'STOPPED', 'Start recording', true);
    expect(await alice.isVisible('#recording-badge')).toBe(false);

    await button(alice).click();
    // egress_started → webhook → service → UpdateRoomMetadata → RoomMetadataChanged, in both pages.
    await expectButton(alice, 'STARTING', 'Starting…', false);
    await expectButton(bob, 'STARTING', 'Starting…', false);
    await stack.livekit.activateEgress((await egressOf(stack, roomName)).egressId);
    await expectButton(alice, 'STARTED', 'Stop recording', true);
    await expectButton(bob, 'STARTED', 'Stop recording', true);
    expect(await alice.isVisible('#recording-badge')).toBe(true);
    // In progress, the recording is already listed for everyone.
    await bob.locator('#recording-list li.recording .status', { hasText: 'Recording' }).waitFor();
    await alice.evaluate(() => (window as FakeLiveKitWindow).__fakeLiveKit.rooms[0].addRemoteParticipant('bob', 'Bob'));
    await alice.locator('#recording-list li.recording .status', { hasText: 'Recording' }).waitFor();
    await alice.screenshot({ path: path.join(SCREENSHOT_DIR, 'room.png') });

    // Webhooks held: what the stop call itself learnt from LiveKit (ENDING) is what everyone sees.
    stack.livekit.webhooks.hold();
    await button(bob).click();
    await expectButton(alice, 'STOPPING', 'Stopping…', false);
    await expectButton(bob, 'STOPPING', 'Stopping…', false);
    expect(await alice.isVisible('#recording-badge')).toBe(true);
    await eventually(() => stack.livekit.listEgresses().find((e) => e.roomName === roomName && e.status === EgressStatus.EGRESS_COMPLETE), {
      what: 'egress complete',
    });
    await stack.livekit.webhooks.release();
    await expectButton(alice, 'STOPPED', 'Start recording', true);
    await expectButton(bob, 'STOPPED', 'Start recording', true);
    expect(await alice.isVisible('#recording-badge')).toBe(false);

    // The room's recordings: the new one, ready to play.
    const item = alice.locator('#recording-list li.recording').first();
    await item.locator('.status', { hasText: 'Ready' }).waitFor();
    await bob.locator('#recording-list li.recording .status', { hasText: 'Ready' }).waitFor();
    await item.locator('button.play').click();
    await alice.waitForFunction(() => {
      const video = document.getElementById('player-video') as HTMLVideoElement;
      return video.currentTime > 0 && !video.paused;
    });
    await alice.click('#player-close');

    // Deleting in one page removes it from the other through the RECORDING_DELETED data message.
    await item.locator('button.delete').click();
    await alice.locator('#recording-list li.recording').waitFor({ state: 'detached' });
    await bob.locator('#recording-list li.recording').waitFor({ state: 'detached' });
    expect(await bob.isVisible('#recording-empty')).toBe(true);
    await alice.close();
    await bob.close();
  });

  it("offers the service's layouts and presets (GET /config) in the page's words", async () => {
    const page = await openRoomPage(browser, stack);
    await joinFromPage(page, stack, uniqueRoom('options'), 'Gus');
    const options = (select: string) =>
      page.$$eval(`${select} option`, (found) => found.map((option) => [(option as HTMLOptionElement).value, option.textContent]));
    expect(await options('#recording-layout')).toEqual([
      ['', 'Default layout'],
      ['grid', 'Grid'],
      ['speaker', 'Speaker'],
      ['single-speaker', 'Single speaker'],
    ]);
    const quality = await options('#recording-quality');
    expect(quality[0]).toEqual(['', 'Default quality']);
    expect(quality.at(-1)).toEqual(['audio', 'Audio only']);
    expect(quality.slice(1, -1).map(([value]) => value)).toEqual([...PRESETS]);
    expect(quality).toContainEqual(['H264_1080P_30', '1080p 30 fps']);
    expect(quality).toContainEqual(['PORTRAIT_H264_720P_60', 'Portrait 720p 60 fps']);
    await page.close();
  });

  it('starts with the layout and quality picked, and changes the layout while recording', async () => {
    const roomName = uniqueRoom('picky');
    const page = await openRoomPage(browser, stack);
    await joinFromPage(page, stack, roomName, 'Fay');
    await page.selectOption('#recording-layout', 'speaker');
    await page.selectOption('#recording-quality', 'H264_1080P_30');
    await button(page).click();
    const egress = await egressOf(stack, roomName);
    expect(egress.request.value).toMatchObject({ layout: 'speaker', options: { case: 'preset' } });
    await stack.livekit.activateEgress(egress.egressId);
    await expectButton(page, 'STARTED', 'Stop recording', true);
    await page.selectOption('#recording-layout', 'grid');
    await eventually(
      async () =>
        ((await stack.http().get('/recordings').query({ roomName })).body as { recordings: RecordingView[] }).recordings[0]?.options
          ?.layout === 'grid',
      { what: 'layout changed' },
    );
    await button(page).click();
    await page.close();
  });

  it('goes live with destinations whose keys stay masked, shows recording and streaming side by side, and stops', async () => {
    const key = 'yt-live-7h2k-9x4m-q8w1-zz90';
    const youtube = `rtmp://a.rtmp.youtube.com/live2/${key}`;
    const ivs = 'rtmps://a1b2c3.global-contribute.live-video.net:443/app/sk_us-west-2_aBcDeFgHiJkLmNoP';
    const roomName = uniqueRoom('on air');
    const page = await openRoomPage(browser, stack);
    await joinFromPage(page, stack, roomName, 'Gus');
    const destinations = page.locator('#stream-destinations li');
    const streamButton = page.locator('#stream-button');
    expect(await streamButton.isEnabled()).toBe(false);

    await page.fill('#stream-url', youtube);
    await page.click('#stream-add');
    await destinations.filter({ hasText: 'rtmp://a.rtmp.youtube.com/live2/{yt-...z90}' }).waitFor();
    expect(await page.inputValue('#stream-url')).toBe('');
    await streamButton.click();
    const egress = await egressOf(stack, roomName);
    expect(JSON.stringify(egress.request.value)).not.toContain(key);
    await stack.livekit.activateEgress(egress.egressId);
    await page.waitForSelector('#stream-button[data-status="STARTED"]');
    expect(await streamButton.textContent()).toBe('Stop live stream');
    expect(await page.isVisible('#live-badge')).toBe(true);
    expect(await page.textContent('#room-status')).toMatch(/Recording:\s*Off\s*Live stream:\s*On/);
    await destinations.filter({ hasText: 'Live' }).waitFor();

    // While live: a second destination joins, the first one leaves.
    await page.fill('#stream-url', ivs);
    await page.click('#stream-add');
    await destinations.nth(1).waitFor();
    await destinations.filter({ hasText: 'youtube' }).locator('button.remove').click();
    await destinations.filter({ hasText: 'youtube' }).filter({ hasText: 'Ended' }).waitFor();
    expect(await page.evaluate(() => document.body.innerText)).not.toContain(key);
    await page.screenshot({ path: path.join(SCREENSHOT_DIR, 'live-stream.png') });

    await button(page).click();
    await stack.livekit.activateEgress(
      (
        await eventually(
          () => stack.livekit.listEgresses().find((e) => e.roomName === roomName && e.status === EgressStatus.EGRESS_STARTING),
          {
            what: 'the recording',
          },
        )
      ).egressId,
    );
    await expectButton(page, 'STARTED', 'Stop recording', true);
    expect(await page.textContent('#room-status')).toMatch(/Recording:\s*On\s*Live stream:\s*On/);
    await streamButton.click();
    await page.waitForSelector('#stream-button[data-status="STOPPED"]');
    expect(await page.isVisible('#live-badge')).toBe(false);
    await expectButton(page, 'STARTED', 'Stop recording', true);
    await button(page).click();
    await page.close();
  });

  it('leaves the room name to the person, and lists a room being recorded once on joining', async () => {
    const blank = await openRoomPage(browser, stack);
    await blank.goto(`${stack.baseUrl}/`);
    expect(await blank.inputValue('#room-name')).toBe('');
    await blank.close();

    const roomName = uniqueRoom('already recording');
    const page = await openRoomPage(browser, stack);
    await joinFromPage(page, stack, roomName, 'Dora');
    await button(page).click();
    await stack.livekit.activateEgress((await egressOf(stack, roomName)).egressId);
    await expectButton(page, 'STARTED', 'Stop recording', true);
    await page.close();

    const late = await openRoomPage(browser, stack);
    const listings: string[] = [];
    late.on('request', (request) => {
      if (new URL(request.url()).pathname === '/recordings') listings.push(request.url());
    });
    await joinFromPage(late, stack, roomName, 'Eve');
    await expectButton(late, 'STARTED', 'Stop recording', true);
    await late.locator('#recording-list li.recording .status', { hasText: 'Recording' }).waitFor();
    await late.waitForTimeout(300);
    expect(listings).toHaveLength(1);
    await button(late).click();
    await expectButton(late, 'STOPPED', 'Start recording', true);
    await late.close();
  });

  it('shows FAILED with its reason', async () => {
    const roomName = uniqueRoom('failing');
    const page = await openRoomPage(browser, stack);
    await joinFromPage(page, stack, roomName, 'Carol');
    await button(page).click();
    await expectButton(page, 'STARTING', 'Starting…', false);
    await stack.livekit.endEgress((await egressOf(stack, roomName)).egressId, { status: 'FAILED', error: 'encoder crashed' });
    await expectButton(page, 'FAILED', 'Start recording', true);
    await page.locator('#recording-failure', { hasText: 'The last recording failed: encoder crashed' }).waitFor();
    await page.locator('#recording-list .recording-error', { hasText: 'encoder crashed' }).waitFor();
    await page.close();
  });

  it('says a recording waits for someone to publish, until someone does, and why one ended when nobody did', async () => {
    const roomName = uniqueRoom('camera shy');
    const alice = await openRoomPage(browser, stack);
    await alice.addInitScript(() => {
      (window as FakeLiveKitWindow).__fakeLiveKitMediaDenied = true;
    });
    await joinFromPage(alice, stack, roomName, 'Alice');
    await alice.locator('#errors .error', { hasText: 'Camera or microphone unavailable' }).waitFor();

    await button(alice).click();
    await expectButton(alice, 'STARTING', 'Starting…', false);
    await alice.locator('#recording-waiting', { hasText: 'waits for someone to turn on a camera or microphone' }).waitFor();
    await alice.locator('#recording-list .recording-waiting', { hasText: 'Waiting for someone to publish' }).waitFor();
    const first = await egressOf(stack, roomName);
    stack.livekit.recorderJoins(first.egressId);
    await new Promise((resolve) => setTimeout(resolve, 1100));
    await stack.services.reconciler.runPass({ full: false });
    await expectButton(alice, 'FAILED', 'Start recording', true);
    expect(await alice.isVisible('#recording-waiting')).toBe(false);
    const reason = 'Nobody published within 1 s (LiveKit: Start signal not received)';
    await alice.locator('#recording-failure', { hasText: `The last recording failed: ${reason}` }).waitFor();
    await alice.locator('#recording-list .recording-error', { hasText: reason }).waitFor();

    // Someone who turns their camera on ends the wait, in every page.
    await button(alice).click();
    await alice.locator('#recording-waiting:not([hidden])').waitFor();
    const bob = await openRoomPage(browser, stack);
    await joinFromPage(bob, stack, roomName, 'Bob');
    await alice.locator('#recording-waiting').waitFor({ state: 'hidden' });
    await expectButton(alice, 'STARTING', 'Starting…', false);
    expect(await alice.locator('#recording-list .recording-waiting').count()).toBe(0);
    expect(await bob.isVisible('#recording-waiting')).toBe(false);
    await stack.livekit.activateEgress((await egressOf(stack, roomName)).egressId);
    await expectButton(alice, 'STARTED', 'Stop recording', true);
    await button(alice).click();
    await expectButton(alice, 'STOPPED', 'Start recording', true);
    await alice.close();
    await bob.close();
  });

  it('tells the person when LiveKit is unreachable or a start is refused', async () => {
    const page = await openRoomPage(browser, stack);
    // More failures than the service's retries absorb.
    stack.livekit.failNext('CreateRoom', 'network', 3);
    await page.goto('about:blank');
    await page.goto(await joinLink(stack, uniqueRoom('down')));
    await page.fill('#participant-name', 'Dan');
    await page.click('#join-button');
    await page.locator('#errors .error', { hasText: 'LiveKit is unreachable' }).waitFor();
    expect(await page.isVisible('#join')).toBe(true);

    await joinFromPage(page, stack, uniqueRoom('refused'), 'Dan');
    stack.livekit.failNext('StartRoomCompositeEgress', { code: 'resource_exhausted', msg: 'no egress workers available' });
    await button(page).click();
    await page.locator('#errors .error', { hasText: 'Cannot start the recording' }).waitFor();
    await expectButton(page, 'STOPPED', 'Start recording', true);
    await page.close();
  });

  it('tells the person when no recorder is free, for a recording and a live stream, and the buttons stay ready to try again', async () => {
    const page = await openRoomPage(browser, stack);
    await joinFromPage(page, stack, uniqueRoom('no-recorder'), 'Erin');
    // What LiveKit answers when no egress claims the start (see support/livekit-double/egress.ts HandlerSearch).
    stack.livekit.failNext('StartRoomCompositeEgress', { code: 'unavailable', msg: 'no response from servers' });
    await button(page).click();
    await page
      .locator('#errors .error', { hasText: 'Cannot start the recording: no recorder available (egress busy or not running)' })
      .waitFor();
    await expectButton(page, 'STOPPED', 'Start recording', true);

    await page.fill('#stream-url', 'rtmp://a.rtmp.youtube.com/live2/key-busy');
    await page.click('#stream-add');
    stack.livekit.failNext('StartRoomCompositeEgress', { code: 'unavailable', msg: 'no response from servers' });
    await page.locator('#stream-button').click();
    await page
      .locator('#errors .error', { hasText: 'Cannot start the live stream: no recorder available (egress busy or not running)' })
      .waitFor();
    expect(await page.locator('#stream-button').isEnabled()).toBe(true);
    await page.close();
  });

  it('shows names carrying HTML and script as text, and runs none of it', async () => {
    const hostileRoom = `<img src=x onerror="window.__pwned='room'">${uniqueRoom()}`;
    const hostileName = '<script>window.__pwned="name"</script>';
    const page = await openRoomPage(browser, stack);
    await joinFromPage(page, stack, hostileRoom, hostileName);
    await page.evaluate(() =>
      (window as FakeLiveKitWindow).__fakeLiveKit.rooms[0].addRemoteParticipant('mallory', '<b onmouseover="window.__pwned=1">Mallory</b>'),
    );
    expect(await page.textContent('#room-title')).toBe(hostileRoom);
    const names = await page.locator('.tile-name').allTextContents();
    expect(names).toEqual(expect.arrayContaining([`${hostileName} (you)`, '<b onmouseover="window.__pwned=1">Mallory</b>']));
    await page.hover('.tile-name >> nth=1');
    expect(await page.evaluate(() => (window as Window & { __pwned?: unknown }).__pwned)).toBeUndefined();
    expect(await page.locator('#video-grid img, #video-grid script, #video-grid b').count()).toBe(0);
    await page.close();
  });
});
