import { expandFileTemplate, fileTemplateProblem } from '../src/services/recordings/file-template.model';
import { completeRecording, FIXTURE_MP4, putObject, readObject, uniqueRoom } from './support/recordings';
import { startStack, type TestStack } from './support/stack';
import type { RecordingView } from '../src/services/recordings/recording.model';
import type { RecordingPage } from './support/answers';

describe('RECORDING_FILE_TEMPLATE', () => {
  it('expands the date parts (UTC) and the room name itself, leaves egress its own, and adds .mp4', () => {
    const at = new Date(Date.UTC(2026, 0, 2, 3, 4, 5));
    expect(expandFileTemplate('{yyyy}/{mm}/{dd}/{hh}/{room_name}-{room_id}-{utc}', 'Weekly_sync', at)).toBe(
      '2026/01/02/03/Weekly_sync-{room_id}-{utc}.mp4',
    );
  });

  it.each([
    ['/abs/{room_id}-{utc}.mp4', /no empty segments/],
    ['a/../{room_id}-{utc}.mp4', /none starting with "."/],
    ['{yyyy}/{room_name}.mp4', /needs \{room_id\} and \{utc\}/],
    ['{room_id}/{utc}.mp4', /needs \{room_id\} and \{utc\}/],
    ['{date}/{room_id}-{utc}.mp4', /only \{room_name\}/],
    ['we ird/{room_id}-{utc}.mp4', /only \{room_name\}/],
  ])('refuses %s', (template, problem) => {
    expect(fileTemplateProblem(template)).toMatch(problem);
  });

  describe('with date folders', () => {
    let stack: TestStack;
    const template = '{yyyy}/{mm}/{dd}/{room_name}-{room_id}-{utc}';
    beforeAll(async () => {
      stack = await startStack({ env: { RECORDING_FILE_TEMPLATE: template } });
    });
    afterAll(async () => {
      await stack.close();
    });

    it('records into the dated folder, and lists, plays and deletes by the handle', async () => {
      const roomName = uniqueRoom('dated room');
      const { name, recording } = await completeRecording(stack, roomName);
      const day = new Date();
      const folder = `recordings/${day.getUTCFullYear()}/${String(day.getUTCMonth() + 1).padStart(2, '0')}/${String(day.getUTCDate()).padStart(2, '0')}/`;
      expect(recording.mediaKey.startsWith(folder)).toBe(true);
      expect(name).toBe(recording.mediaKey.slice(folder.length));
      expect(name).not.toContain('/');
      expect((await readObject(stack, recording.mediaKey))?.equals(FIXTURE_MP4)).toBe(true);

      const listed = ((await stack.http().get('/recordings').query({ roomName }).expect(200)).body as RecordingPage).recordings;
      expect(listed.map((r) => r.name)).toEqual([name]);
      const media = await stack
        .http()
        .get(`/recordings/${encodeURIComponent(name)}`)
        .set('Range', 'bytes=0-9')
        .expect(206);
      expect(Buffer.from(media.body).equals(FIXTURE_MP4.subarray(0, 10))).toBe(true);
      await stack
        .http()
        .delete(`/recordings/${encodeURIComponent(name)}`)
        .expect(200);
      expect(await readObject(stack, recording.mediaKey)).toBeUndefined();
      expect(((await stack.http().get('/recordings').query({ roomName }).expect(200)).body as RecordingPage).recordings).toEqual([]);
    });

    it('adopts media found in a dated folder without a sidecar', async () => {
      const key = 'recordings/2025/12/31/orphan-RM_orphan1234-20251231120000123.mp4';
      await putObject(stack, key, FIXTURE_MP4, 'video/mp4');
      const report = await stack.services.reconciler.runPass();
      expect(report.adopted).toBeGreaterThanOrEqual(1);
      const adopted = (await stack.http().get('/recordings/orphan-RM_orphan1234-20251231120000123.mp4/info').expect(200))
        .body as RecordingView;
      expect(adopted).toMatchObject({ mediaKey: key, roomName: 'orphan', status: 'COMPLETE' });
    });
  });
});
