import { GetObjectCommand, HeadObjectCommand, ListObjectsV2Command } from '@aws-sdk/client-s3';
import { readFileSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import {
  AccessToken,
  DataPacket_Kind,
  EgressClient,
  type EgressInfo,
  EgressStatus,
  EncodedFileOutput,
  EncodedFileType,
  ImageOutput,
  RoomServiceClient,
  S3Upload,
  ServerError,
  StreamOutput,
  StreamProtocol,
  TwirpError,
  type VideoGrant,
  WebhookEvent as SdkWebhookEvent,
  WebhookReceiver,
} from 'livekit-server-sdk';
import { ParticipantInfo_Kind, StreamInfo_Status, TrackSource, TrackType, WebhookEvent } from '@livekit/protocol';
import { eventually } from './support/eventually';
import { LiveKitDouble } from './support/livekit-double';
import { resolveFilepath } from './support/livekit-double/egress-request';
import { S3TestServer, TEST_S3_CREDENTIALS } from './support/s3-server';

const FIXTURE = readFileSync(path.join(__dirname, 'fixtures', 'sample.mp4'));

/** A Twirp error answer's body. */
interface TwirpErrorJson {
  code: string;
  msg: string;
}

/**
 * An egress webhook body, as far as these tests read it: protobuf JSON, so camelCase names, enums by
 * name, 64-bit numbers as strings and default values left out.
 */
interface EgressWebhookJson {
  egressInfo: {
    egressId: string;
    status?: string;
    streamResults: Array<{ url: string; status?: string; startedAt?: string; error?: string }>;
    roomComposite: { streamOutputs: Array<{ urls: string[] }> };
  };
}

/** A ListEgress answer as Twirp sends it (proto field names). */
interface ListEgressJson {
  items: Array<{ stream_results: Array<{ status: string }> }>;
}

/** A webhook endpoint like the service's: records raw bodies and headers, answers with scripted statuses. */
class Receiver {
  readonly received: Array<{ body: string; authorization?: string; contentType?: string; userAgent?: string }> = [];
  /** Statuses to answer with, in order; 200 once empty. */
  statuses: number[] = [];
  private constructor(
    private readonly server: http.Server,
    readonly url: string,
  ) {}

  static async start(): Promise<Receiver> {
    // Requests come only once the port is known, after `receiver` is set below.
    const server = http.createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (chunk: Buffer) => chunks.push(chunk));
      req.on('end', () => {
        receiver.received.push({
          body: Buffer.concat(chunks).toString('utf8'),
          authorization: req.headers.authorization,
          contentType: req.headers['content-type'],
          userAgent: req.headers['user-agent'],
        });
        res.writeHead(receiver.statuses.shift() ?? 200).end();
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const receiver = new Receiver(server, `http://127.0.0.1:${(server.address() as AddressInfo).port}/webhook`);
    return receiver;
  }

  async close(): Promise<void> {
    const closed = new Promise((resolve) => this.server.close(resolve));
    this.server.closeAllConnections();
    await closed;
  }
}

describe('LiveKit double', () => {
  let s3: S3TestServer;
  let receiver: Receiver;
  let double: LiveKitDouble;
  let rooms: RoomServiceClient;
  let egress: EgressClient;
  let verifier: WebhookReceiver;
  let counter = 0;
  const unique = (label: string) => `${label}-${++counter}`;

  beforeAll(async () => {
    s3 = await S3TestServer.start();
    receiver = await Receiver.start();
    double = await LiveKitDouble.start({
      lifecycle: 'manual',
      webhookUrls: [receiver.url],
      webhookRetry: { initialDelayMs: 5, maxDelayMs: 40 },
      handlerSearch: { unclaimedMs: 30, unansweredMs: 100 },
    });
    rooms = new RoomServiceClient(double.url, double.apiKey, double.apiSecret);
    egress = new EgressClient(double.url, double.apiKey, double.apiSecret);
    verifier = new WebhookReceiver(double.apiKey, double.apiSecret);
  });
  afterEach(() => {
    double.webhooks.clear();
    double.clearFaults();
    receiver.statuses = [];
  });
  afterAll(async () => {
    await double.close();
    await receiver.close();
    await s3.close();
  });

  /** Every webhook the receiver got so far, each verified as the SDK's WebhookReceiver would. */
  async function verifiedEvents(): Promise<SdkWebhookEvent[]> {
    await double.webhooks.idle();
    return Promise.all(receiver.received.map(({ body, authorization }) => verifier.receive(body, authorization)));
  }

  async function egressEvents(egressId: string) {
    return (await verifiedEvents()).filter((e) => e.egressInfo?.egressId === egressId);
  }

  function fileOutput(filepath: string) {
    return new EncodedFileOutput({
      fileType: EncodedFileType.MP4,
      filepath,
      disableManifest: true,
      output: {
        case: 's3',
        value: new S3Upload({
          accessKey: TEST_S3_CREDENTIALS.accessKeyId,
          secret: TEST_S3_CREDENTIALS.secretAccessKey,
          region: 'us-east-1',
          endpoint: s3.endpoint,
          bucket: s3.bucket,
          forcePathStyle: true,
          metadata: { owner: 'double-test' },
        }),
      },
    });
  }

  async function startRecording(label: string, filepath = 'recordings/{room_name}-{time}.mp4') {
    const roomName = unique(label);
    await rooms.createRoom({ name: roomName });
    const info = await egress.startRoomCompositeEgress(roomName, fileOutput(filepath));
    return { roomName, info };
  }

  async function readObject(key: string): Promise<Buffer | undefined> {
    try {
      const object = await s3.client().send(new GetObjectCommand({ Bucket: s3.bucket, Key: key }));
      return Buffer.from(await object.Body!.transformToByteArray());
    } catch {
      return undefined;
    }
  }

  /** A raw Twirp call with a token carrying exactly `grant` (or a given Authorization header). */
  async function rawCall(pathname: string, body: unknown, auth: { grant?: VideoGrant; header?: string } = {}) {
    let header = auth.header;
    if (auth.grant) {
      const token = new AccessToken(double.apiKey, double.apiSecret, { ttl: '1m', identity: 'tester' });
      token.addGrant(auth.grant);
      header = `Bearer ${await token.toJwt()}`;
    }
    const res = await fetch(`${double.url}${pathname}`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json', ...(header ? { Authorization: header } : {}) },
      body: JSON.stringify(body),
    });
    return { status: res.status, contentType: res.headers.get('content-type'), text: await res.text() };
  }

  async function serverError(call: Promise<unknown>): Promise<ServerError> {
    const error = await call.then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(ServerError);
    return error as ServerError;
  }

  describe('RoomService through the SDK', () => {
    it('creates a room once: a second CreateRoom returns the live room unchanged', async () => {
      const name = unique('create');
      const room = await rooms.createRoom({ name, metadata: 'first' });
      expect(room).toMatchObject({ name, metadata: 'first', emptyTimeout: 300, departureTimeout: 20, numParticipants: 0 });
      expect(room.sid).toMatch(/^RM_[2-9A-HJ-NP-Za-km-z]{12}$/);
      expect(room.creationTime).toBeGreaterThan(0n);
      const again = await rooms.createRoom({ name, metadata: 'second', emptyTimeout: 5 });
      expect(again).toMatchObject({ sid: room.sid, metadata: 'first', emptyTimeout: 300 });
      expect(double.getRoom(name)?.metadata).toBe('first');
      const started = (await verifiedEvents()).filter((e) => e.event === 'room_started' && e.room?.name === name);
      expect(started).toHaveLength(1);
    });

    it('lists rooms by exact name, skipping unknown names', async () => {
      const a = unique('list-a');
      const b = unique('list-b');
      await rooms.createRoom({ name: a });
      await rooms.createRoom({ name: b });
      expect((await rooms.listRooms([a, 'no-such-room'])).map((r) => r.name)).toEqual([a]);
      expect((await rooms.listRooms()).map((r) => r.name)).toEqual(expect.arrayContaining([a, b]));
      expect(await rooms.listRooms(['no-such-room'])).toEqual([]);
    });

    it('updates room metadata and tells the room, without a webhook', async () => {
      const name = unique('meta');
      await rooms.createRoom({ name, metadata: '{}' });
      const changes: Array<[string, string]> = [];
      double.events.on('roomMetadataChanged', (room: string, metadata: string) => changes.push([room, metadata]));
      await double.webhooks.idle();
      const before = receiver.received.length;
      const updated = await rooms.updateRoomMetadata(name, '{"recordingStatus":"STARTED"}');
      expect(updated.metadata).toBe('{"recordingStatus":"STARTED"}');
      expect(double.getRoom(name)?.metadata).toBe('{"recordingStatus":"STARTED"}');
      expect(changes).toEqual([[name, '{"recordingStatus":"STARTED"}']]);
      await double.webhooks.idle();
      expect(receiver.received.length).toBe(before);
      const missing = await serverError(rooms.updateRoomMetadata(unique('nowhere'), 'x'));
      expect(missing).toMatchObject({ status: 404, code: 'not_found', message: 'requested room does not exist' });
    });

    it('deletes a room (room_finished) and answers 404 for an unknown one', async () => {
      const name = unique('delete');
      await rooms.createRoom({ name });
      await rooms.deleteRoom(name);
      expect(await rooms.listRooms([name])).toEqual([]);
      const finished = (await verifiedEvents()).find((e) => e.event === 'room_finished' && e.room?.name === name);
      expect(finished).toBeDefined();
      const error = await serverError(rooms.deleteRoom(name));
      expect(error).toBeInstanceOf(TwirpError);
      expect(error).toMatchObject({ status: 404, code: 'not_found', message: 'requested room does not exist' });
    });

    it('receives data messages with topic, kind and destinations', async () => {
      const name = unique('data');
      await rooms.createRoom({ name });
      const received = new Promise<[string, unknown]>((resolve) =>
        double.events.once('dataReceived', (room, packet) => resolve([room, packet])),
      );
      const payload = new TextEncoder().encode('{"hello":"room"}');
      await rooms.sendData(name, payload, DataPacket_Kind.RELIABLE, { topic: 'RECORDING_DELETED', destinationIdentities: [] });
      await rooms.sendData(name, payload, DataPacket_Kind.LOSSY, { destinationIdentities: ['alice'] });
      const [room, packet] = await received;
      expect(room).toBe(name);
      expect(packet).toMatchObject({ room: name, topic: 'RECORDING_DELETED', kind: 'RELIABLE', destinationIdentities: [] });
      const mine = double.dataPackets.filter((p) => p.room === name);
      expect(mine.map((p) => [p.topic, p.kind, p.destinationIdentities])).toEqual([
        ['RECORDING_DELETED', 'RELIABLE', []],
        [undefined, 'LOSSY', ['alice']],
      ]);
      expect(mine[0].payload.toString('utf8')).toBe('{"hello":"room"}');
      const missing = await serverError(rooms.sendData(unique('gone'), payload, DataPacket_Kind.RELIABLE));
      expect(missing).toMatchObject({ status: 404, code: 'not_found' });
      const badNonce = await rawCall(
        '/twirp/livekit.RoomService/SendData',
        { room: name, data: 'eA==', nonce: 'AAE=' },
        { grant: { roomAdmin: true, room: name } },
      );
      expect(badNonce.status).toBe(400);
      expect((JSON.parse(badNonce.text) as TwirpErrorJson).code).toBe('invalid_argument');
    });

    it('lists participants; an unknown room is an empty list', async () => {
      const name = unique('people');
      await rooms.createRoom({ name });
      expect(await rooms.listParticipants(unique('nobody'))).toEqual([]);
      const alice = double.addParticipant(name, { identity: 'alice', name: 'Alice' });
      expect(alice.sid).toMatch(/^PA_/);
      expect((await rooms.listParticipants(name)).map((p) => [p.identity, p.name, p.kind])).toEqual([
        ['alice', 'Alice', ParticipantInfo_Kind.STANDARD],
      ]);
      expect(double.getRoom(name)?.numParticipants).toBe(1);
      double.removeParticipant(name, 'alice');
      expect(await rooms.listParticipants(name)).toEqual([]);
      const events = (await verifiedEvents()).filter((e) => e.room?.name === name && e.participant?.identity === 'alice');
      expect(events.map((e) => [e.event, e.participant?.state])).toEqual([
        ['participant_joined', 2], // ACTIVE
        ['participant_left', 3], // DISCONNECTED
      ]);
    });
  });

  describe('transport and auth', () => {
    it('answers 401 unauthenticated JSON for a valid token without the grant, or for the wrong room', async () => {
      const noGrant = await rawCall('/twirp/livekit.RoomService/ListRooms', {}, { grant: { roomJoin: true, room: 'x' } });
      expect(noGrant).toEqual({
        status: 401,
        contentType: 'application/json',
        text: '{"code":"unauthenticated","msg":"permissions denied"}',
      });
      const name = unique('admin');
      await rooms.createRoom({ name });
      const otherRoom = await rawCall(
        '/twirp/livekit.RoomService/UpdateRoomMetadata',
        { room: name, metadata: 'x' },
        { grant: { roomAdmin: true, room: 'other' } },
      );
      expect(otherRoom.status).toBe(401);
      expect(JSON.parse(otherRoom.text)).toEqual({ code: 'unauthenticated', msg: 'permissions denied' });
      const anonymous = await rawCall('/twirp/livekit.Egress/ListEgress', {});
      expect(anonymous.status).toBe(401);
      expect(anonymous.contentType).toBe('application/json');
    });

    it('answers 401 plain text for a garbage, foreign or expired token', async () => {
      const garbage = await rawCall('/twirp/livekit.RoomService/ListRooms', {}, { header: 'Bearer not.a.jwt' });
      expect(garbage.status).toBe(401);
      expect(garbage.contentType).toMatch(/^text\/plain/);
      expect(garbage.text).toMatch(/^invalid authorization token/);
      const notBearer = await rawCall('/twirp/livekit.RoomService/ListRooms', {}, { header: 'Basic abc' });
      expect(notBearer.text).toMatch(/^invalid authorization header/);

      // Through the SDK: a plain-text 401 has no Twirp code.
      const wrongSecret = new RoomServiceClient(double.url, double.apiKey, 'not-the-secret');
      const error = await serverError(wrongSecret.listRooms());
      expect(error.status).toBe(401);
      expect(error.code).toBeUndefined();
      expect(error.message).toMatch(/invalid authorization token/);
      const unknownKey = await serverError(new RoomServiceClient(double.url, 'otherkey', double.apiSecret).listRooms());
      expect(unknownKey.message).toMatch(/invalid API key/);

      const expired = new AccessToken(double.apiKey, double.apiSecret, { ttl: -120 });
      expired.addGrant({ roomList: true });
      const late = await rawCall('/twirp/livekit.RoomService/ListRooms', {}, { header: `Bearer ${await expired.toJwt()}` });
      expect(late.status).toBe(401);
      expect(late.text).toMatch(/expired/);
    });

    it('answers bad_route for other methods and for non-POST requests', async () => {
      const unknown = await rawCall('/twirp/livekit.RoomService/MutePublishedTrack', {}, { grant: { roomAdmin: true } });
      expect(unknown.status).toBe(404);
      expect((JSON.parse(unknown.text) as TwirpErrorJson).code).toBe('bad_route');
      const get = await fetch(`${double.url}/twirp/livekit.RoomService/ListRooms`);
      expect(get.status).toBe(404);
      expect(get.headers.get('content-type')).toBe('application/json');
      expect(((await get.json()) as TwirpErrorJson).code).toBe('bad_route');
    });

    it('injects Twirp errors, dropped connections and slow answers', async () => {
      double.failNext('RoomService/ListRooms', { code: 'unavailable', msg: 'no response from servers' });
      const unavailable = await serverError(rooms.listRooms());
      expect(unavailable).toMatchObject({ status: 503, code: 'unavailable', message: 'no response from servers' });

      double.failNext('ListRooms', 'network');
      const network = await rooms.listRooms().then(
        () => undefined,
        (e: unknown) => e,
      );
      // fetch's own error (another realm than jest's Error), not a ServerError.
      expect(network).not.toBeInstanceOf(ServerError);
      expect(String(network)).toMatch(/fetch failed/);
      expect(double.calls.at(-1)).toMatchObject({ service: 'RoomService', method: 'ListRooms', status: 0 });

      const name = unique('slow');
      double.failNext('CreateRoom', { delayMs: 150 });
      const started = Date.now();
      const slow = rooms.createRoom({ name });
      // The call acts at once; only its answer is late.
      await double.waitFor(() => double.getRoom(name));
      expect((await slow).name).toBe(name);
      expect(Date.now() - started).toBeGreaterThanOrEqual(140);
      expect(double.calls.filter((c) => c.method === 'CreateRoom' && (c.request as { name?: string }).name === name)).toEqual([
        { service: 'RoomService', method: 'CreateRoom', request: { name }, status: 200 },
      ]);
      expect((await rooms.listRooms([name])).length).toBe(1);
    });

    it('holds an answer until the test releases it', async () => {
      const name = unique('held');
      const release = double.holdNext('CreateRoom');
      let answered = false;
      const held = rooms.createRoom({ name }).finally(() => {
        answered = true;
      });
      await double.waitFor(() => double.getRoom(name));
      await new Promise((resolve) => setTimeout(resolve, 100));
      expect(answered).toBe(false);
      release();
      expect((await held).name).toBe(name);
    });
  });

  describe('Egress through the SDK', () => {
    it('starts a room composite as STARTING, with the file name resolved and the credentials redacted', async () => {
      const { roomName, info } = await startRecording('start', 'recordings/{room_name}/{room_id}-{time}-{utc}-{yyyy}');
      const room = double.getRoom(roomName)!;
      expect(info.egressId).toMatch(/^EG_[2-9A-HJ-NP-Za-km-z]{12}$/);
      expect(info).toMatchObject({ roomId: room.sid, roomName, status: EgressStatus.EGRESS_STARTING, endedAt: 0n });
      expect(info.startedAt).toBeGreaterThan(1_600_000_000n * 1_000_000_000n); // nanoseconds
      const filename = info.fileResults[0].filename;
      expect(filename).toMatch(new RegExp(`^recordings/${roomName}/${room.sid}-\\d{4}-\\d{2}-\\d{2}T\\d{6}-\\d{17}-\\{yyyy\\}\\.mp4$`));
      expect(info.result).toMatchObject({ case: 'file', value: { filename } });
      const request = info.request.case === 'roomComposite' ? info.request.value : undefined;
      const echoed = request?.fileOutputs[0].output;
      expect(echoed?.case === 's3' && echoed.value).toMatchObject({
        accessKey: '{access_key}',
        secret: '{secret}',
        bucket: s3.bucket,
        endpoint: s3.endpoint,
        metadata: { owner: 'double-test' },
      });
      expect(request?.output.case).toBe('file');
      // The double keeps the real credentials for itself: the stored request stays redacted too.
      expect(JSON.stringify(double.getEgress(info.egressId)!.toJson())).not.toContain(TEST_S3_CREDENTIALS.secretAccessKey);
    });

    it('records a room: STARTING → ACTIVE → ENDING → COMPLETE, the file byte-identical in S3, every webhook verifiable', async () => {
      const { roomName, info } = await startRecording('record');
      const id = info.egressId;
      await double.activateEgress(id);
      await double.activateEgress(id); // already ACTIVE: nothing happens

      // The recorder joins as a hidden EGRESS participant and does not count.
      const recorder = (await rooms.listParticipants(roomName)).find((p) => p.identity === id);
      expect(recorder).toMatchObject({
        kind: ParticipantInfo_Kind.EGRESS,
        permission: { hidden: true, recorder: true, canPublish: false },
      });
      expect(double.getRoom(roomName)).toMatchObject({ numParticipants: 0, activeRecording: true });

      const stopped = await egress.stopEgress(id);
      expect(stopped).toMatchObject({ status: EgressStatus.EGRESS_ENDING, details: 'End reason: StopEgress API', endedAt: 0n });
      const done = await double.waitFor(() => double.getEgress(id)?.status === EgressStatus.EGRESS_COMPLETE && double.getEgress(id));
      const key = done.fileResults[0].filename;
      expect(await readObject(key)).toEqual(FIXTURE);
      const head = await s3.client().send(new HeadObjectCommand({ Bucket: s3.bucket, Key: key }));
      expect(head).toMatchObject({ ContentType: 'video/mp4', Metadata: { owner: 'double-test' } });
      expect(await rooms.listParticipants(roomName)).toEqual([]);

      const events = await egressEvents(id);
      expect(events.map((e) => [e.event, EgressStatus[e.egressInfo!.status]])).toEqual([
        ['egress_started', 'EGRESS_STARTING'],
        ['egress_updated', 'EGRESS_ACTIVE'],
        ['egress_updated', 'EGRESS_ENDING'],
        ['egress_ended', 'EGRESS_COMPLETE'],
      ]);
      const [started, active, ending, ended] = events.map((e) => e.egressInfo!);
      expect(events.every((e) => /^EV_[2-9A-HJ-NP-Za-km-z]{12}$/.test(e.id) && e.createdAt > 0n)).toBe(true);
      expect(events[0].room).toEqual(expect.objectContaining({ sid: info.roomId, name: roomName, emptyTimeout: 0 }));
      expect(started.fileResults[0]).toMatchObject({ filename: key, startedAt: 0n });
      expect(active.fileResults[0].startedAt).toBeGreaterThan(0n);
      expect(ending).toMatchObject({ details: 'End reason: StopEgress API', endedAt: 0n });
      expect(ending.fileResults[0]).toMatchObject({ endedAt: 0n, size: 0n, location: '' });
      const file = ended.fileResults[0];
      expect(ended.endedAt).toBeGreaterThan(ended.startedAt);
      expect(file).toMatchObject({ filename: key, size: BigInt(FIXTURE.length), location: `${s3.endpoint}/${s3.bucket}/${key}` });
      expect(file.duration).toBe(file.endedAt - file.startedAt);
      expect(file.duration).toBeGreaterThan(0n);
      expect(ended.result).toMatchObject({ case: 'file', value: { size: BigInt(FIXTURE.length), location: file.location } });

      // The wire: LiveKit's headers, a raw JWT, camelCase with defaults omitted (no status while STARTING).
      const raw = receiver.received.filter((r) => r.body.includes(id));
      expect(
        raw.every(
          (r) => r.contentType === 'application/webhook+json' && r.userAgent === 'LiveKit' && !r.authorization?.startsWith('Bearer'),
        ),
      ).toBe(true);
      const startedJson = JSON.parse(raw.find((r) => r.body.includes('"egress_started"'))!.body) as EgressWebhookJson;
      expect(startedJson.egressInfo.status).toBeUndefined();
      expect(startedJson.egressInfo.egressId).toBe(id);

      // The recorder's own participant events exist too.
      const recorderEvents = (await verifiedEvents()).filter((e) => e.participant?.identity === id).map((e) => e.event);
      expect(recorderEvents).toEqual(['participant_joined', 'participant_left']);
    });

    it('lists egresses by room, by id and by activity', async () => {
      const { roomName, info: first } = await startRecording('listing');
      const second = await egress.startRoomCompositeEgress(roomName, fileOutput('recordings/second'));
      await double.activateEgress(first.egressId);
      await double.endEgress(first.egressId, { status: 'COMPLETE' });
      expect((await egress.listEgress({ roomName })).map((e) => e.egressId).sort()).toEqual([first.egressId, second.egressId].sort());
      expect((await egress.listEgress({ roomName, active: true })).map((e) => e.egressId)).toEqual([second.egressId]);
      expect((await egress.listEgress({ egressId: first.egressId })).map((e) => e.status)).toEqual([EgressStatus.EGRESS_COMPLETE]);
      const unknown = await serverError(egress.listEgress({ egressId: 'EG_unknownunkno' }));
      expect(unknown).toMatchObject({ status: 404, code: 'not_found', message: 'egress does not exist' });
      expect(double.forgetEgress(first.egressId)).toBe(true);
      expect((await egress.listEgress({ roomName })).map((e) => e.egressId)).toEqual([second.egressId]);
    });

    it('refuses to stop an ended or unknown egress, and to record an unknown room or without output', async () => {
      const { info } = await startRecording('refuse');
      await double.activateEgress(info.egressId);
      await double.endEgress(info.egressId, { status: 'COMPLETE', skipEnding: true });
      const ended = await serverError(egress.stopEgress(info.egressId));
      expect(ended).toMatchObject({
        status: 412,
        code: 'failed_precondition',
        message: 'egress with status EGRESS_COMPLETE cannot be stopped',
      });
      const unknownEgress = await serverError(egress.stopEgress('EG_unknownunkno'));
      expect(unknownEgress).toMatchObject({ status: 404, code: 'not_found', message: 'egress does not exist' });
      const unknownRoom = await serverError(egress.startRoomCompositeEgress(unique('no-room'), fileOutput('x')));
      expect(unknownRoom).toMatchObject({ status: 404, code: 'not_found', message: 'requested room does not exist' });

      const roomName = unique('no-output');
      await rooms.createRoom({ name: roomName });
      const noOutput = await rawCall('/twirp/livekit.Egress/StartRoomCompositeEgress', { roomName }, { grant: { roomRecord: true } });
      expect(noOutput.status).toBe(400);
      expect(JSON.parse(noOutput.text)).toEqual({ code: 'invalid_argument', msg: 'request has missing or invalid field: output' });
      const output = fileOutput('a').toJson();
      const twoOutputs = await rawCall(
        '/twirp/livekit.Egress/StartRoomCompositeEgress',
        { roomName, fileOutputs: [output, output] },
        { grant: { roomRecord: true } },
      );
      expect((JSON.parse(twoOutputs.text) as TwirpErrorJson).code).toBe('invalid_argument');
      // Without the recordRecord grant, even a valid request is refused.
      const noGrant = await rawCall(
        '/twirp/livekit.Egress/StartRoomCompositeEgress',
        { roomName, fileOutputs: [output] },
        { grant: { roomAdmin: true, room: roomName } },
      );
      expect(noGrant.status).toBe(401);
      // The only egress webhooks of the ended one are its own, with egress_ended right after ACTIVE.
      expect((await egressEvents(info.egressId)).map((e) => e.event)).toEqual(['egress_started', 'egress_updated', 'egress_ended']);
    });

    it('aborts an egress stopped before it started', async () => {
      const { info } = await startRecording('abort');
      const stopped = await egress.stopEgress(info.egressId);
      expect(stopped).toMatchObject({
        status: EgressStatus.EGRESS_ABORTED,
        error: 'Stop called before pipeline could start',
        errorCode: 412,
      });
      expect(stopped.endedAt).toBeGreaterThan(0n);
      const events = await egressEvents(info.egressId);
      expect(events.map((e) => [e.event, e.egressInfo!.status])).toEqual([
        ['egress_started', EgressStatus.EGRESS_STARTING],
        ['egress_ended', EgressStatus.EGRESS_ABORTED],
      ]);
      expect(await readObject(info.fileResults[0].filename)).toBeUndefined();
    });

    it('updates the layout of a recorder that is in the room', async () => {
      const { roomName, info } = await startRecording('layout');
      const notYet = await serverError(egress.updateLayout(info.egressId, 'speaker'));
      expect(notYet).toMatchObject({ status: 404, message: 'participant does not exist' });
      await double.activateEgress(info.egressId);
      const updated = await egress.updateLayout(info.egressId, 'speaker');
      expect(updated.status).toBe(EgressStatus.EGRESS_ACTIVE);
      const recorder = (await rooms.listParticipants(roomName)).find((p) => p.identity === info.egressId);
      expect(recorder?.metadata).toBe('{"layout":"speaker"}');
    });
  });

  // An egress short of CPU does not claim StartEgress; LiveKit gives up after its selection window and
  // retries (HandlerSearch.startUnclaimedMs in support/livekit-double/egress.ts cites protocol and psrpc).
  describe("StartEgress with a CPU budget (egress's costs and admission)", () => {
    const startUnclaimedMs = 300;
    let busy: LiveKitDouble;
    let busyEgress: EgressClient;
    let busyRooms: RoomServiceClient;
    beforeAll(async () => {
      busy = await LiveKitDouble.start({ cores: 8, stopCompletion: 'manual', handlerSearch: { startUnclaimedMs } });
      busyEgress = new EgressClient(busy.url, busy.apiKey, busy.apiSecret);
      busyRooms = new RoomServiceClient(busy.url, busy.apiKey, busy.apiSecret);
    });
    afterAll(() => busy.close());

    async function startIn(prefix: string, options?: { audioOnly: boolean }) {
      const roomName = unique(prefix);
      await busyRooms.createRoom({ name: roomName });
      busy.addParticipant(roomName, { identity: 'host', tracks: ['audio', 'video'] }); // so that it goes ACTIVE
      return busyEgress.startRoomCompositeEgress(roomName, fileOutput(`recordings/${prefix}`), options);
    }

    it('a request the running egresses leave no CPU for: 503 "no response from servers" after the selection window, nothing started', async () => {
      // 8 cores: a first recording (cost 4) takes all it likes; beside it 8 x 0.8 - 4 = 2.4 are left.
      const first = await startIn('cpu-first');
      const started = Date.now();
      const refused = await serverError(startIn('cpu-second'));
      expect(refused).toMatchObject({ status: 503, code: 'unavailable', message: 'no response from servers' });
      expect(Date.now() - started).toBeGreaterThanOrEqual(startUnclaimedMs - 5);
      const listed = await busyEgress.listEgress({});
      expect(listed.filter((info) => info.status < EgressStatus.EGRESS_COMPLETE).map((info) => info.egressId)).toEqual([first.egressId]);

      // An audio-only recording costs 1: it fits.
      const audio = await startIn('cpu-audio', { audioOnly: true });
      expect(audio.status).toBe(EgressStatus.EGRESS_STARTING);

      // Once the first has ended its CPU is free again (6.4 - 1 >= 4).
      await busyEgress.stopEgress(first.egressId);
      await busy.endEgress(first.egressId, { status: 'COMPLETE' });
      expect((await startIn('cpu-after')).status).toBe(EgressStatus.EGRESS_STARTING);
    });
  });

  // LiveKit looks for the egress's handler before it answers from its store (HandlerSearch in
  // support/livekit-double/egress.ts cites livekit/livekit, protocol and psrpc).
  describe('StopEgress and UpdateStream wait for an egress handler', () => {
    const search = { unclaimedMs: 400, unansweredMs: 1200 };
    let slow: LiveKitDouble;
    let slowEgress: EgressClient;
    let slowRooms: RoomServiceClient;
    beforeAll(async () => {
      slow = await LiveKitDouble.start({ lifecycle: 'manual', handlerSearch: search });
      slowEgress = new EgressClient(slow.url, slow.apiKey, slow.apiSecret);
      slowRooms = new RoomServiceClient(slow.url, slow.apiKey, slow.apiSecret);
    });
    afterAll(() => slow.close());

    async function timed(call: Promise<unknown>): Promise<{ error: ServerError; ms: number }> {
      const started = Date.now();
      const error = await serverError(call);
      return { error, ms: Date.now() - started };
    }

    async function activeEgress(client: EgressClient, roomClient: RoomServiceClient, double: LiveKitDouble): Promise<string> {
      const roomName = unique('handler-search');
      await roomClient.createRoom({ name: roomName });
      const { egressId } = await client.startRoomCompositeEgress(roomName, fileOutput('recordings/handler-search'));
      await double.activateEgress(egressId);
      return egressId;
    }

    it('answers 412 for an ended egress and 404 for an unknown one only after no handler claimed the call; UpdateLayout at once', async () => {
      const id = await activeEgress(slowEgress, slowRooms, slow);
      await slow.endEgress(id, { status: 'COMPLETE', skipEnding: true });
      const [stopEnded, stopUnknown, updateEnded, updateUnknown, layoutEnded] = await Promise.all([
        timed(slowEgress.stopEgress(id)),
        timed(slowEgress.stopEgress('EG_unknownunkno')),
        timed(slowEgress.updateStream(id, ['rtmp://a.example.com/live/key'])),
        timed(slowEgress.updateStream('EG_unknownunkno', ['rtmp://a.example.com/live/key'])),
        timed(slowEgress.updateLayout(id, 'speaker')),
      ]);
      expect(stopEnded.error).toMatchObject({ status: 412, message: 'egress with status EGRESS_COMPLETE cannot be stopped' });
      expect(updateEnded.error).toMatchObject({ status: 412, message: 'egress with status EGRESS_COMPLETE cannot be updated' });
      for (const unknown of [stopUnknown, updateUnknown])
        expect(unknown.error).toMatchObject({ status: 404, message: 'egress does not exist' });
      for (const slowAnswer of [stopEnded, stopUnknown, updateEnded, updateUnknown])
        expect(slowAnswer.ms).toBeGreaterThanOrEqual(search.unclaimedMs - 5);
      // The recorder has left: UpdateLayout's participant lookup fails at once.
      expect(layoutEnded.error).toMatchObject({ status: 404 });
      expect(layoutEnded.ms).toBeLessThan(search.unclaimedMs);
    });

    it('a handler that claims and never answers: 408 "request timed out" after all attempts, the egress untouched; 412 if it ended meanwhile', async () => {
      const stuck = await activeEgress(slowEgress, slowRooms, slow);
      slow.hangEgressHandler(stuck);
      const stop = await timed(slowEgress.stopEgress(stuck));
      expect(stop.error).toMatchObject({ status: 408, code: 'deadline_exceeded', message: 'request timed out' });
      expect(stop.ms).toBeGreaterThanOrEqual(search.unansweredMs - 5);
      expect(slow.getEgress(stuck)?.status).toBe(EgressStatus.EGRESS_ACTIVE);

      const endsMeanwhile = timed(slowEgress.stopEgress(stuck));
      await slow.endEgress(stuck, { status: 'COMPLETE', skipEnding: true });
      const late = await endsMeanwhile;
      expect(late.error).toMatchObject({ status: 412, message: 'egress with status EGRESS_COMPLETE cannot be stopped' });
      expect(late.ms).toBeGreaterThanOrEqual(search.unansweredMs - 5);
    });

    it("LiveKit's own timings by default: about 3 s without a handler, about 15 s with one that never answers", async () => {
      const real = await LiveKitDouble.start({ lifecycle: 'manual' });
      try {
        // The SDK gives up after 10 s by default (TwirpRPC defaultTimeoutSeconds).
        const client = new EgressClient(real.url, real.apiKey, real.apiSecret, { requestTimeout: 30 });
        const roomClient = new RoomServiceClient(real.url, real.apiKey, real.apiSecret);
        const stuck = await activeEgress(client, roomClient, real);
        real.hangEgressHandler(stuck);
        const [unknown, hung] = await Promise.all([timed(client.stopEgress('EG_unknownunkno')), timed(client.stopEgress(stuck))]);
        expect(unknown.error.status).toBe(404);
        expect(unknown.ms).toBeGreaterThanOrEqual(2995);
        expect(unknown.ms).toBeLessThan(4000);
        expect(hung.error.status).toBe(408);
        expect(hung.ms).toBeGreaterThanOrEqual(14_995);
        expect(hung.ms).toBeLessThan(16_500);
      } finally {
        await real.close();
      }
    }, 25_000);
  });

  describe('image outputs (issue 16)', () => {
    function imageOutput() {
      const upload = fileOutput('unused').output.value as S3Upload;
      return new ImageOutput({ captureInterval: 5, filenamePrefix: 'frames/shot', output: { case: 's3', value: upload.clone() } });
    }

    it("redacts the image output's credentials and every assume_role_external_id in the echoed request", async () => {
      const roomName = unique('image-echo');
      await rooms.createRoom({ name: roomName });
      const file = fileOutput('recordings/echo');
      (file.output.value as S3Upload).assumeRoleExternalId = 'external-id-secret';
      const info = await egress.startRoomCompositeEgress(roomName, { file, images: imageOutput() });
      const request = info.request.case === 'roomComposite' ? info.request.value : undefined;
      const imageUpload = request?.imageOutputs[0]?.output.value as S3Upload | undefined;
      expect(imageUpload).toMatchObject({ accessKey: '{access_key}', secret: '{secret}' });
      expect((request?.fileOutputs[0]?.output.value as S3Upload).assumeRoleExternalId).toBe('{external_id}');
      expect(JSON.stringify(info.toJson())).not.toContain(TEST_S3_CREDENTIALS.secretAccessKey);
      expect(JSON.stringify(info.toJson())).not.toContain('external-id-secret');
      await egress.stopEgress(info.egressId);
    });

    it('sets no deprecated result.file when images are requested too', async () => {
      const roomName = unique('image-result');
      await rooms.createRoom({ name: roomName });
      const info = await egress.startRoomCompositeEgress(roomName, { file: fileOutput('recordings/with-images'), images: imageOutput() });
      expect(info.fileResults).toHaveLength(1);
      expect(info.result.case).toBeUndefined();
      await egress.stopEgress(info.egressId);
    });

    it('refuses images with audio_only, as egress does', async () => {
      const roomName = unique('image-audio');
      await rooms.createRoom({ name: roomName });
      const refused = await serverError(
        egress.startRoomCompositeEgress(roomName, { file: fileOutput('recordings/audio'), images: imageOutput() }, { audioOnly: true }),
      );
      expect(refused).toMatchObject({
        status: 400,
        code: 'invalid_argument',
        message: 'request has missing or invalid field: audio_only images',
      });
    });
  });

  describe('egress endings driven by the test', () => {
    it('ends FAILED with error 500 and nothing uploaded', async () => {
      const { info } = await startRecording('failed');
      await double.activateEgress(info.egressId);
      await double.endEgress(info.egressId, { status: 'FAILED', error: 'chrome crashed' });
      const ended = (await egressEvents(info.egressId)).at(-1)!;
      expect(ended.event).toBe('egress_ended');
      expect(ended.egressInfo).toMatchObject({
        status: EgressStatus.EGRESS_FAILED,
        error: 'chrome crashed',
        errorCode: 500,
        details: 'End reason: Failure',
      });
      expect(await readObject(info.fileResults[0].filename)).toBeUndefined();
      // From STARTING too, with the default message.
      const { info: early } = await startRecording('failed-early');
      await double.endEgress(early.egressId, { status: 'FAILED' });
      expect(double.getEgress(early.egressId)).toMatchObject({ status: EgressStatus.EGRESS_FAILED, error: 'pipeline failure' });
      await expect(double.endEgress(early.egressId, { status: 'COMPLETE' })).rejects.toThrow(/already ended/);
    });

    it('ends LIMIT_REACHED with the file uploaded and no ENDING update', async () => {
      const { info } = await startRecording('limit');
      await double.activateEgress(info.egressId);
      await double.endEgress(info.egressId, { status: 'LIMIT_REACHED' });
      const events = await egressEvents(info.egressId);
      expect(events.map((e) => e.egressInfo!.status)).toEqual([
        EgressStatus.EGRESS_STARTING,
        EgressStatus.EGRESS_ACTIVE,
        EgressStatus.EGRESS_LIMIT_REACHED,
      ]);
      expect(events[2].egressInfo).toMatchObject({ error: 'Session limit reached', errorCode: 413 });
      expect(await readObject(info.fileResults[0].filename)).toEqual(FIXTURE);
    });

    it('ends ABORTED only before the start', async () => {
      const { info } = await startRecording('aborted');
      await double.endEgress(info.egressId, { status: 'ABORTED' });
      expect(double.getEgress(info.egressId)).toMatchObject({ status: EgressStatus.EGRESS_ABORTED, errorCode: 412 });
      const { info: active } = await startRecording('aborted-active');
      await double.activateEgress(active.egressId);
      await expect(double.endEgress(active.egressId, { status: 'ABORTED' })).rejects.toThrow(/STARTING/);
    });

    it('closing a room completes its ACTIVE egress and aborts its STARTING one', async () => {
      const { roomName, info: recording } = await startRecording('closing');
      const waiting = await egress.startRoomCompositeEgress(roomName, fileOutput('recordings/waiting'));
      await double.activateEgress(recording.egressId);
      await double.closeRoom(roomName);
      expect(double.getRoom(roomName)).toBeUndefined();

      const completed = await egressEvents(recording.egressId);
      expect(completed.map((e) => [e.event, e.egressInfo!.status, e.egressInfo!.details])).toEqual([
        ['egress_started', EgressStatus.EGRESS_STARTING, ''],
        ['egress_updated', EgressStatus.EGRESS_ACTIVE, ''],
        ['egress_updated', EgressStatus.EGRESS_ENDING, 'End reason: Source closed'],
        ['egress_ended', EgressStatus.EGRESS_COMPLETE, 'End reason: Source closed'],
      ]);
      expect(await readObject(recording.fileResults[0].filename)).toEqual(FIXTURE);
      const aborted = (await egressEvents(waiting.egressId)).at(-1)!;
      expect(aborted.egressInfo).toMatchObject({ status: EgressStatus.EGRESS_ABORTED, error: 'Start signal not received', errorCode: 412 });

      const roomEvents = (await verifiedEvents()).filter((e) => e.room?.name === roomName && !e.egressInfo);
      expect(roomEvents.map((e) => e.event)).toEqual(['room_started', 'participant_joined', 'participant_left', 'room_finished']);
      expect(roomEvents[2].participant).toMatchObject({ identity: recording.egressId, disconnectReason: 10 }); // ROOM_CLOSED
    });

    it('DeleteRoom ends the recording too, the recorder leaving with ROOM_DELETED', async () => {
      const { roomName, info } = await startRecording('deleted');
      await double.activateEgress(info.egressId);
      await rooms.deleteRoom(roomName);
      await double.webhooks.idle(); // waits for the egress to finish as well
      expect(double.getEgress(info.egressId)).toMatchObject({ status: EgressStatus.EGRESS_COMPLETE, details: 'End reason: Source closed' });
      const events = (await verifiedEvents()).filter((e) => e.room?.name === roomName && !e.egressInfo);
      expect(events.find((e) => e.event === 'participant_left')?.participant?.disconnectReason).toBe(5); // ROOM_DELETED
      expect(events.at(-1)).toMatchObject({ event: 'room_finished', roomEndReason: 1 }); // ROOM_END_API_DELETE
    });

    it('fails an egress whose upload fails, and lets a test fail one after StopEgress', async () => {
      const roomName = unique('bad-bucket');
      double.createRoom(roomName);
      const output = fileOutput('recordings/lost');
      if (output.output.case === 's3') output.output.value.bucket = 'no-such-bucket';
      const info = await egress.startRoomCompositeEgress(roomName, output);
      await double.activateEgress(info.egressId);
      await double.endEgress(info.egressId, { status: 'COMPLETE' });
      expect(double.getEgress(info.egressId)).toMatchObject({ status: EgressStatus.EGRESS_FAILED, errorCode: 500 });
      expect(double.getEgress(info.egressId)!.error).toMatch(/^upload failed/);
      expect(double.getEgress(info.egressId)!.fileResults[0].location).toBe('');

      const manual = await LiveKitDouble.start({ lifecycle: 'manual', stopCompletion: 'manual' });
      try {
        const client = new EgressClient(manual.url, manual.apiKey, manual.apiSecret);
        manual.createRoom(roomName);
        const stopped = await client.startRoomCompositeEgress(roomName, fileOutput('recordings/never'));
        await manual.activateEgress(stopped.egressId);
        await client.stopEgress(stopped.egressId);
        await manual.webhooks.idle();
        expect(manual.getEgress(stopped.egressId)?.status).toBe(EgressStatus.EGRESS_ENDING);
        await manual.endEgress(stopped.egressId, { status: 'FAILED', error: 'upload failed: disk full', skipUpload: true });
        expect(manual.getEgress(stopped.egressId)).toMatchObject({ status: EgressStatus.EGRESS_FAILED, error: 'upload failed: disk full' });
        expect(await readObject('recordings/never.mp4')).toBeUndefined();
      } finally {
        await manual.close();
      }
    });
  });

  describe('webhook delivery', () => {
    it('retries a 5xx answer with backoff until it is accepted, and stops at a 4xx', async () => {
      receiver.statuses = [503, 500];
      const name = unique('retry');
      double.createRoom(name);
      await double.webhooks.idle();
      const delivery = double.deliveries.find((d) => d.event.room?.name === name)!;
      expect(delivery).toMatchObject({ attempts: [503, 500, 200], delivered: true });
      const bodies = receiver.received.filter((r) => r.body === delivery.body);
      expect(bodies).toHaveLength(3);
      for (const { body, authorization } of bodies) await verifier.receive(body, authorization);

      receiver.statuses = [400];
      const refused = unique('refused');
      double.createRoom(refused);
      await double.webhooks.idle();
      expect(double.deliveries.find((d) => d.event.room?.name === refused)).toMatchObject({ attempts: [400], delivered: false });
    });

    it('gives up after the configured number of attempts, then goes on with the next event', async () => {
      receiver.statuses = [503, 503, 503, 503, 503];
      const name = unique('give-up');
      double.createRoom(name);
      double.addParticipant(name, { identity: 'bob' });
      await double.webhooks.idle();
      const [first, second] = double.deliveries.filter((d) => d.event.room?.name === name);
      expect(first).toMatchObject({ attempts: [503, 503, 503, 503, 503], delivered: false });
      expect(second).toMatchObject({ attempts: [200], delivered: true });
    });

    it('drops, duplicates and holds events on request', async () => {
      double.webhooks.drop((e) => e.event === 'room_started', 1);
      const dropped = unique('dropped');
      double.createRoom(dropped);
      double.webhooks.duplicate((e) => e.event === 'participant_joined');
      double.addParticipant(dropped, { identity: 'carol' });
      const events = (await verifiedEvents()).filter((e) => e.room?.name === dropped);
      expect(events.map((e) => e.event)).toEqual(['participant_joined', 'participant_joined']);
      expect(events[0].id).toBe(events[1].id);
      expect(double.deliveries.find((d) => d.event.event === 'room_started' && d.event.room?.name === dropped)).toMatchObject({
        dropped: 'knob',
        attempts: [],
      });

      double.webhooks.clear();
      double.webhooks.hold();
      const held = [unique('held-a'), unique('held-b'), unique('held-c')];
      for (const name of held) double.createRoom(name);
      await double.webhooks.idle(); // held events do not count as pending
      expect(receiver.received.some((r) => held.some((name) => r.body.includes(name)))).toBe(false);
      await double.webhooks.release({ reverse: true });
      const order = (await verifiedEvents()).filter((e) => held.includes(e.room?.name ?? '')).map((e) => e.room!.name);
      expect(order).toEqual([...held].reverse());
    });

    it('keeps the order of one egress even when its deliveries are slow', async () => {
      double.webhooks.delay(15);
      const { info } = await startRecording('slow-hooks');
      await double.activateEgress(info.egressId);
      await egress.stopEgress(info.egressId);
      await double.webhooks.idle();
      expect((await egressEvents(info.egressId)).map((e) => e.egressInfo!.status)).toEqual([
        EgressStatus.EGRESS_STARTING,
        EgressStatus.EGRESS_ACTIVE,
        EgressStatus.EGRESS_ENDING,
        EgressStatus.EGRESS_COMPLETE,
      ]);
    });

    it('signs bodies for forged-webhook tests and sends single events on demand', async () => {
      const event = new WebhookEvent({ event: 'room_started', id: 'EV_handmadehand', room: { name: 'r', sid: 'RM_r' }, createdAt: 1n });
      const body = JSON.stringify(event.toJson());
      await expect(verifier.receive(body, await double.signWebhook(body))).resolves.toMatchObject({
        event: 'room_started',
        id: 'EV_handmadehand',
      });
      await expect(verifier.receive(body, await double.signWebhook(body, { apiSecret: 'nope' }))).rejects.toThrow();
      await expect(verifier.receive(body, await double.signWebhook(body, { apiKey: 'otherkey' }))).rejects.toThrow(/iss/);
      await expect(verifier.receive(body.replace('"r"', '"s"'), await double.signWebhook(body))).rejects.toThrow(/sha256/);

      const before = double.deliveries.length;
      receiver.statuses = [503];
      expect(await double.sendWebhook(event)).toBe(503);
      expect(await double.sendWebhook(event)).toBe(200);
      expect(double.deliveries.length).toBe(before);
      expect(receiver.received.at(-1)!.body).toBe(body);
      // The SDK's own WebhookEvent class loses `event` when given to its constructor: refused loudly.
      const nameless = new SdkWebhookEvent({ event: 'room_started', id: 'EV_handmadehand' });
      await expect(double.sendWebhook(nameless)).rejects.toThrow(/no name/);
    });

    it('drops events that waited longer than the maximum age, and beyond the maximum depth', async () => {
      const small = await LiveKitDouble.start({ webhookUrls: [receiver.url], webhookQueue: { maxAgeMs: 30, maxDepth: 2 } });
      try {
        small.webhooks.delay(80);
        const name = unique('old');
        small.createRoom(name); // sent after the delay
        small.addParticipant(name, { identity: 'a' }); // 80 ms old by then: dropped
        small.addParticipant(name, { identity: 'b' }); // queue holds 2 waiting events: this one is dropped at once
        small.addParticipant(name, { identity: 'c' });
        await small.webhooks.idle();
        expect(small.deliveries.map((d) => [d.event.event, d.dropped])).toEqual([
          ['room_started', undefined],
          ['participant_joined', 'too old'],
          ['participant_joined', 'too old'],
          ['participant_joined', 'queue full'],
        ]);
      } finally {
        await small.close();
      }
    });
  });

  describe('streams', () => {
    // Keys long enough for 3 characters at each end; the raw keys must never leave the double.
    const KEY_A = 'abcd-efgh-ijkl-mnop';
    const KEY_B = 'sk_live_987654';
    const RTMP_A = `rtmp://a.example.com/live/${KEY_A}`;
    const RTMP_B = `rtmp://b.example.com/app/${KEY_B}`;
    const RTMP_A_SHOWN = 'rtmp://a.example.com/live/{abc...nop}';
    const RTMP_B_SHOWN = 'rtmp://b.example.com/app/{sk_...654}';
    const SRT = 'srt://srt.example.com:8890?streamid=publish:live/secret-sid&pkt_size=1316';
    const SRT_ECHO = 'srt://srt.example.com:8890?streamid={...}&pkt_size={...}';
    const grant = { grant: { roomRecord: true } };

    async function streamRoom(label: string) {
      const roomName = unique(label);
      await rooms.createRoom({ name: roomName });
      return roomName;
    }

    const rtmp = (...urls: string[]) => new StreamOutput({ protocol: StreamProtocol.RTMP, urls });
    const composite = (info: EgressInfo) => (info.request.case === 'roomComposite' ? info.request.value : undefined);
    /** [url, status, started?] per entry, in order. */
    const entries = (info: EgressInfo) => info.streamResults.map((s) => [s.url, StreamInfo_Status[s.status], s.startedAt > 0n]);

    async function objectCount(): Promise<number> {
      return (await s3.client().send(new ListObjectsV2Command({ Bucket: s3.bucket }))).KeyCount ?? 0;
    }

    /** The raw bodies of one egress's own events (not its recorder's participant events), after the deliveries settled. */
    async function rawBodies(egressId: string): Promise<string[]> {
      await double.webhooks.idle();
      return receiver.received.filter((r) => r.body.includes(`"egressId":"${egressId}"`)).map((r) => r.body);
    }

    /** The raw keys appear in no webhook body, no Twirp answer and no stored info. */
    async function expectKeysHidden(egressId: string, keys: string[]) {
      const listed = await rawCall('/twirp/livekit.Egress/ListEgress', { egressId }, grant);
      await double.webhooks.idle();
      const bodies = receiver.received.filter((r) => r.body.includes(egressId)).map((r) => r.body);
      const everything = [...bodies, listed.text, JSON.stringify(double.getEgress(egressId)!.toJson())].join('\n');
      for (const key of keys) expect(everything).not.toContain(key);
    }

    it('streams to RTMP only: keys redacted everywhere, STARTING → ACTIVE → connected → ENDING → COMPLETE, nothing uploaded', async () => {
      const roomName = await streamRoom('rtmp-only');
      const objectsBefore = await objectCount();
      const info = await egress.startRoomCompositeEgress(roomName, rtmp(RTMP_A, RTMP_B), { layout: 'speaker' });
      const id = info.egressId;
      expect(info.status).toBe(EgressStatus.EGRESS_STARTING);
      expect(entries(info)).toEqual([
        [RTMP_A_SHOWN, 'ACTIVE', false],
        [RTMP_B_SHOWN, 'ACTIVE', false],
      ]);
      expect(info.fileResults).toEqual([]);
      // Stream-only: the deprecated `stream` result mirrors streamResults.
      expect(info.result.case).toBe('stream');
      expect(info.result.case === 'stream' && info.result.value.info.map((s) => s.url)).toEqual([RTMP_A_SHOWN, RTMP_B_SHOWN]);
      // The request echo: both the streamOutputs and the deprecated `stream` member the SDK sets.
      const request = composite(info)!;
      expect(request.streamOutputs[0].urls).toEqual([RTMP_A_SHOWN, RTMP_B_SHOWN]);
      expect(request.output.case === 'stream' && request.output.value.urls).toEqual([RTMP_A_SHOWN, RTMP_B_SHOWN]);

      // Twirp answers show the ACTIVE default; webhook bodies omit it.
      const listed = JSON.parse((await rawCall('/twirp/livekit.Egress/ListEgress', { egressId: id }, grant)).text) as ListEgressJson;
      expect(listed.items[0].stream_results.map((s) => s.status)).toEqual(['ACTIVE', 'ACTIVE']);

      await double.activateEgress(id);
      expect(entries(double.getEgress(id)!)).toEqual([
        [RTMP_A_SHOWN, 'ACTIVE', true],
        [RTMP_B_SHOWN, 'ACTIVE', true],
      ]);
      const stopped = await egress.stopEgress(id);
      expect(stopped).toMatchObject({ status: EgressStatus.EGRESS_ENDING, details: 'End reason: StopEgress API' });
      const done = await double.waitFor(() => double.getEgress(id)?.status === EgressStatus.EGRESS_COMPLETE && double.getEgress(id));

      const events = await egressEvents(id);
      expect(events.map((e) => [e.event, EgressStatus[e.egressInfo!.status], entries(e.egressInfo!)])).toEqual([
        [
          'egress_started',
          'EGRESS_STARTING',
          [
            [RTMP_A_SHOWN, 'ACTIVE', false],
            [RTMP_B_SHOWN, 'ACTIVE', false],
          ],
        ],
        [
          'egress_updated',
          'EGRESS_ACTIVE',
          [
            [RTMP_A_SHOWN, 'ACTIVE', false],
            [RTMP_B_SHOWN, 'ACTIVE', false],
          ],
        ],
        [
          'egress_updated',
          'EGRESS_ACTIVE',
          [
            [RTMP_A_SHOWN, 'ACTIVE', true],
            [RTMP_B_SHOWN, 'ACTIVE', true],
          ],
        ],
        [
          'egress_updated',
          'EGRESS_ENDING',
          [
            [RTMP_A_SHOWN, 'ACTIVE', true],
            [RTMP_B_SHOWN, 'ACTIVE', true],
          ],
        ],
        [
          'egress_ended',
          'EGRESS_COMPLETE',
          [
            [RTMP_A_SHOWN, 'FINISHED', true],
            [RTMP_B_SHOWN, 'FINISHED', true],
          ],
        ],
      ]);
      for (const entry of done.streamResults) {
        expect(entry.endedAt).toBe(done.endedAt);
        expect(entry.duration).toBe(entry.endedAt - entry.startedAt);
        expect(entry.duration).toBeGreaterThan(0n);
      }
      expect(done).toMatchObject({ manifestLocation: '', error: '', fileResults: [] });
      expect(done.result.case === 'stream' && done.result.value.info.map((s) => s.status)).toEqual([
        StreamInfo_Status.FINISHED,
        StreamInfo_Status.FINISHED,
      ]);
      expect(await objectCount()).toBe(objectsBefore);

      // The wire: no status key on live entries, FINISHED spelled out at the end, no raw key anywhere.
      const bodies = (await rawBodies(id)).map((body) => JSON.parse(body) as EgressWebhookJson);
      expect(bodies[0].egressInfo.streamResults).toEqual([{ url: RTMP_A_SHOWN }, { url: RTMP_B_SHOWN }]);
      expect(bodies[2].egressInfo.streamResults.map((s) => 'status' in s)).toEqual([false, false]);
      expect(bodies.at(-1)!.egressInfo.streamResults.map((s) => s.status)).toEqual(['FINISHED', 'FINISHED']);
      expect(bodies[0].egressInfo.roomComposite.streamOutputs[0].urls).toEqual([RTMP_A_SHOWN, RTMP_B_SHOWN]);
      await expectKeysHidden(id, [KEY_A, KEY_B]);
    });

    it('redacts keys by length, expands mux:// and twitch://, keeps " live=1"; a stream egress can end LIMIT_REACHED', async () => {
      const roomName = await streamRoom('redaction');
      const urls = [
        'rtmp://h.example.com/app/abcdefghi',
        'rtmp://h.example.com/app/abcdefgh',
        'rtmp://h.example.com/app/abcdef',
        'rtmps://h.example.com:443/a/b/app/abc',
        'rtmp://h.example.com/app/ab',
        'rtmp://h.example.com/app/key123456 live=1',
        'mux://muxkey12345',
        'twitch://twitchkey123',
      ];
      const info = await egress.startRoomCompositeEgress(roomName, rtmp(...urls));
      expect(info.streamResults.map((s) => s.url)).toEqual([
        'rtmp://h.example.com/app/{abc...ghi}',
        'rtmp://h.example.com/app/{ab...gh}',
        'rtmp://h.example.com/app/{ab...ef}',
        'rtmps://h.example.com:443/a/b/app/{a...c}',
        'rtmp://h.example.com/app/{...}',
        'rtmp://h.example.com/app/{key...456} live=1',
        'rtmps://global-live.mux.com:443/app/{mux...345}',
        // Twitch simplified: a fixed ingest instead of egress's lookup.
        'rtmps://ingest.global-contribute.live-video.net/app/{twi...123}',
      ]);
      expect(composite(info)!.streamOutputs[0].urls.slice(-2)).toEqual(['mux://{mux...345}', 'twitch://{twi...123}']);
      await expectKeysHidden(info.egressId, ['abcdefghi', 'key123456', 'muxkey12345', 'twitchkey123']);

      await double.activateEgress(info.egressId);
      await double.endEgress(info.egressId, { status: 'LIMIT_REACHED' });
      const events = await egressEvents(info.egressId);
      expect(events.map((e) => e.egressInfo!.status)).toEqual([
        EgressStatus.EGRESS_STARTING,
        EgressStatus.EGRESS_ACTIVE,
        EgressStatus.EGRESS_ACTIVE,
        EgressStatus.EGRESS_LIMIT_REACHED,
      ]);
      expect(events.at(-1)!.egressInfo).toMatchObject({ errorCode: 413, details: 'End reason: Session limit reached' });
      expect(events.at(-1)!.egressInfo!.streamResults.every((s) => s.status === StreamInfo_Status.FINISHED)).toBe(true);
    });

    it('SRT (protocol taken from the URL): started at once, verbatim in streamResults, query values redacted in the echo; closing the room completes it', async () => {
      const roomName = await streamRoom('srt');
      const info = await egress.startRoomCompositeEgress(roomName, new StreamOutput({ urls: [SRT] }));
      expect(entries(info)).toEqual([[SRT, 'ACTIVE', true]]);
      const request = composite(info)!;
      expect(request.streamOutputs[0]).toMatchObject({ protocol: StreamProtocol.DEFAULT_PROTOCOL, urls: [SRT_ECHO] });
      expect(request.output.case === 'stream' && request.output.value.urls).toEqual([SRT_ECHO]);

      await double.activateEgress(info.egressId);
      await double.closeRoom(roomName);
      const events = await egressEvents(info.egressId);
      // Nothing to connect after ACTIVE: no second update.
      expect(events.map((e) => [e.event, EgressStatus[e.egressInfo!.status], e.egressInfo!.details])).toEqual([
        ['egress_started', 'EGRESS_STARTING', ''],
        ['egress_updated', 'EGRESS_ACTIVE', ''],
        ['egress_updated', 'EGRESS_ENDING', 'End reason: Source closed'],
        ['egress_ended', 'EGRESS_COMPLETE', 'End reason: Source closed'],
      ]);
      expect(entries(events.at(-1)!.egressInfo!)).toEqual([[SRT, 'FINISHED', true]]);
      const started = JSON.parse((await rawBodies(info.egressId))[0]) as EgressWebhookJson;
      expect(started.egressInfo.streamResults[0].startedAt).toBe(String(info.streamResults[0].startedAt));
      expect(started.egressInfo.roomComposite.streamOutputs[0].urls).toEqual([SRT_ECHO]);
    });

    it('file + stream: the file is uploaded as always; the only stream failing leaves the egress ACTIVE; an empty stream output is accepted', async () => {
      const roomName = await streamRoom('file-stream');
      const info = await egress.startRoomCompositeEgress(roomName, { file: fileOutput('recordings/{room_name}'), stream: rtmp(RTMP_A) });
      const id = info.egressId;
      expect(info.fileResults[0].filename).toBe(`recordings/${roomName}.mp4`);
      expect(entries(info)).toEqual([[RTMP_A_SHOWN, 'ACTIVE', false]]);
      expect(info.result.case).toBeUndefined(); // egress fills no deprecated result for file + stream
      expect(composite(info)!.streamOutputs[0].urls).toEqual([RTMP_A_SHOWN]);

      await double.activateEgress(id);
      await double.failStream(id, RTMP_A, 'Connection reset by peer');
      expect(double.getEgress(id)).toMatchObject({ status: EgressStatus.EGRESS_ACTIVE, error: '' });
      await egress.stopEgress(id);
      const done = await double.waitFor(() => double.getEgress(id)?.status === EgressStatus.EGRESS_COMPLETE && double.getEgress(id));
      expect(await readObject(`recordings/${roomName}.mp4`)).toEqual(FIXTURE);
      expect(done.fileResults[0].size).toBe(BigInt(FIXTURE.length));

      const events = await egressEvents(id);
      expect(events.map((e) => [EgressStatus[e.egressInfo!.status], entries(e.egressInfo!)])).toEqual([
        ['EGRESS_STARTING', [[RTMP_A_SHOWN, 'ACTIVE', false]]],
        ['EGRESS_ACTIVE', [[RTMP_A_SHOWN, 'ACTIVE', false]]],
        ['EGRESS_ACTIVE', [[RTMP_A_SHOWN, 'ACTIVE', true]]],
        ['EGRESS_ACTIVE', [[RTMP_A_SHOWN, 'FAILED', true]]],
        ['EGRESS_ENDING', [[RTMP_A_SHOWN, 'FAILED', true]]],
        ['EGRESS_COMPLETE', [[RTMP_A_SHOWN, 'FAILED', true]]],
      ]);
      const failed = events[3].egressInfo!.streamResults[0];
      expect(failed).toMatchObject({ error: 'Connection reset by peer' });
      expect(failed.endedAt).toBeGreaterThan(failed.startedAt); // it had connected
      expect(done.streamResults[0]).toEqual(failed); // a failed entry stays as it was

      // An empty stream output next to a file: accepted, URLs come later.
      const empty = await egress.startRoomCompositeEgress(roomName, { file: fileOutput('recordings/empty'), stream: rtmp() });
      expect(empty.streamResults).toEqual([]);
      await double.activateEgress(empty.egressId);
      const added = await egress.updateStream(empty.egressId, [RTMP_B]);
      expect(entries(added)).toEqual([[RTMP_B_SHOWN, 'ACTIVE', true]]);
      await expectKeysHidden(id, [KEY_A]);
      await expectKeysHidden(empty.egressId, [KEY_B]);
    });

    it('refuses invalid stream requests with egress messages (400 invalid_argument)', async () => {
      const roomName = await streamRoom('bad-streams');
      const start = (body: object) => rawCall('/twirp/livekit.Egress/StartRoomCompositeEgress', { roomName, ...body }, grant);
      const file = fileOutput('recordings/x').toJson();
      const cases: Array<[object, string]> = [
        [
          {
            streamOutputs: [
              { protocol: 'RTMP', urls: [RTMP_A] },
              { protocol: 'RTMP', urls: [RTMP_B] },
            ],
          },
          'request has missing or invalid field: multiple stream outputs',
        ],
        [{ fileOutputs: [file], streamOutputs: [{}] }, 'request has missing or invalid field: stream protocol'],
        [{ streamOutputs: [{ urls: ['http://h.example.com/app/key'] }] }, 'invalid url http://h.example.com/app/key: invalid protocol'],
        [{ streamOutputs: [{ protocol: 'RTMP', urls: [SRT] }] }, `invalid url ${SRT}: invalid scheme`],
        [{ streamOutputs: [{ protocol: 'SRT', urls: [RTMP_A] }] }, `invalid url ${RTMP_A}: invalid scheme`],
        [{ streamOutputs: [{ urls: [RTMP_A, SRT] }] }, `invalid url ${SRT}: invalid scheme`],
        [
          { streamOutputs: [{ protocol: 'RTMP', urls: ['rtmp://h.example.com/key'] }] },
          'invalid url rtmp://h.example.com/key: rtmp urls must be of format rtmp(s)://{host}(/{path})/{app}/{stream_key}( live=1)',
        ],
        [{ stream: { protocol: 'RTMP' } }, 'request has missing or invalid field: stream url'],
      ];
      for (const [body, msg] of cases) {
        const answer = await start(body);
        expect({ status: answer.status, ...JSON.parse(answer.text) }).toEqual({ status: 400, code: 'invalid_argument', msg });
      }
      // Through the SDK: the bare StreamOutput form with no URL.
      const empty = await serverError(egress.startRoomCompositeEgress(roomName, rtmp()));
      expect(empty).toMatchObject({ status: 400, code: 'invalid_argument', message: 'request has missing or invalid field: stream url' });
      expect(await egress.listEgress({ roomName })).toEqual([]);
    });

    it('one URL failing while others live: the entry FAILED, the egress ACTIVE; the last one failing: egress FAILED 503', async () => {
      const roomName = await streamRoom('stream-fail');
      double.failStreamUrl(RTMP_B, 'Could not connect to RTMP stream');
      const info = await egress.startRoomCompositeEgress(roomName, rtmp(RTMP_A, RTMP_B));
      const id = info.egressId;
      await double.activateEgress(id);
      const running = double.getEgress(id)!;
      expect(running).toMatchObject({ status: EgressStatus.EGRESS_ACTIVE, error: '' });
      expect(entries(running)).toEqual([
        [RTMP_A_SHOWN, 'ACTIVE', true],
        [RTMP_B_SHOWN, 'FAILED', true],
      ]);
      const bad = running.streamResults[1];
      expect(bad).toMatchObject({ error: 'Could not connect to RTMP stream', duration: 0n });
      expect(bad.startedAt).toBe(bad.endedAt); // never connected

      await double.failStream(id, RTMP_A); // the last output
      const events = await egressEvents(id);
      expect(events.map((e) => [e.event, EgressStatus[e.egressInfo!.status]])).toEqual([
        ['egress_started', 'EGRESS_STARTING'],
        ['egress_updated', 'EGRESS_ACTIVE'],
        ['egress_updated', 'EGRESS_ACTIVE'],
        ['egress_ended', 'EGRESS_FAILED'],
      ]);
      const ended = events.at(-1)!.egressInfo!;
      expect(ended).toMatchObject({ error: 'Could not open resource for writing.', errorCode: 503, details: 'End reason: Failure' });
      expect(entries(ended)).toEqual([
        [RTMP_A_SHOWN, 'FAILED', true],
        [RTMP_B_SHOWN, 'FAILED', true],
      ]);
      expect(ended.endedAt).toBeGreaterThan(0n);
      const failedBody = JSON.parse((await rawBodies(id))[2]) as EgressWebhookJson;
      expect(failedBody.egressInfo.streamResults[1]).toMatchObject({ status: 'FAILED', error: 'Could not connect to RTMP stream' });
      await expect(double.failStream(id, RTMP_A)).rejects.toThrow(/only an ACTIVE egress/);
      await expectKeysHidden(id, [KEY_A, KEY_B]);

      // Its only URL failing when it connects (a predicate knob): ACTIVE, then FAILED.
      double.failStreamUrl((url) => url.includes('dead.example.com'));
      const lone = await egress.startRoomCompositeEgress(roomName, rtmp('rtmp://dead.example.com/app/key-123456'));
      await double.activateEgress(lone.egressId);
      expect((await egressEvents(lone.egressId)).map((e) => EgressStatus[e.egressInfo!.status])).toEqual([
        'EGRESS_STARTING',
        'EGRESS_ACTIVE',
        'EGRESS_FAILED',
      ]);
      expect(double.getEgress(lone.egressId)).toMatchObject({ errorCode: 503, error: 'Could not open resource for writing.' });
    });

    it('UpdateStream adds and removes by the real URL; removing the last one ends the egress', async () => {
      const roomName = await streamRoom('update-stream');
      const info = await egress.startRoomCompositeEgress(roomName, rtmp(RTMP_A));
      const id = info.egressId;
      await double.activateEgress(id);
      await double.webhooks.idle();
      const seen = (await egressEvents(id)).length;

      const added = await egress.updateStream(id, [RTMP_B, 'mux://muxkey12345']);
      expect(added.status).toBe(EgressStatus.EGRESS_ACTIVE);
      const MUX_SHOWN = 'rtmps://global-live.mux.com:443/app/{mux...345}';
      expect(entries(added)).toEqual([
        [RTMP_A_SHOWN, 'ACTIVE', true],
        [RTMP_B_SHOWN, 'ACTIVE', true],
        [MUX_SHOWN, 'ACTIVE', true],
      ]);
      expect(added.result.case === 'stream' && added.result.value.info.length).toBe(3);
      expect(composite(added)!.streamOutputs[0].urls).toEqual([RTMP_A_SHOWN]); // the echo is the original request

      // Removed by the real URL, the mux shorthand as given.
      const removed = await egress.updateStream(id, [], [RTMP_A, 'mux://muxkey12345']);
      expect(entries(removed)).toEqual([
        [RTMP_A_SHOWN, 'FINISHED', true],
        [RTMP_B_SHOWN, 'ACTIVE', true],
        [MUX_SHOWN, 'FINISHED', true],
      ]);
      expect(removed.streamResults[0].duration).toBe(removed.streamResults[0].endedAt - removed.streamResults[0].startedAt);

      // A knob failing an added URL: the update reports it FAILED.
      double.failStreamUrl('rtmp://c.example.com/app/doomed-key');
      const doomed = await egress.updateStream(id, ['rtmp://c.example.com/app/doomed-key']);
      expect(entries(doomed).at(-1)).toEqual(['rtmp://c.example.com/app/{doo...key}', 'FAILED', true]);
      expect(doomed.status).toBe(EgressStatus.EGRESS_ACTIVE);

      const last = await egress.updateStream(id, [], [RTMP_B]);
      expect(last).toMatchObject({ status: EgressStatus.EGRESS_ENDING, details: 'End reason: All streams stopped' });
      await double.waitFor(() => double.getEgress(id)?.status === EgressStatus.EGRESS_COMPLETE);

      const events = (await egressEvents(id)).slice(seen);
      expect(
        events.map((e) => [
          e.event,
          EgressStatus[e.egressInfo!.status],
          e.egressInfo!.streamResults.map((s) => StreamInfo_Status[s.status]),
        ]),
      ).toEqual([
        ['egress_updated', 'EGRESS_ACTIVE', ['ACTIVE', 'ACTIVE', 'ACTIVE']],
        ['egress_updated', 'EGRESS_ACTIVE', ['FINISHED', 'ACTIVE', 'FINISHED']],
        ['egress_updated', 'EGRESS_ACTIVE', ['FINISHED', 'ACTIVE', 'FINISHED', 'FAILED']],
        ['egress_updated', 'EGRESS_ENDING', ['FINISHED', 'FINISHED', 'FINISHED', 'FAILED']],
        ['egress_ended', 'EGRESS_COMPLETE', ['FINISHED', 'FINISHED', 'FINISHED', 'FAILED']],
      ]);
      expect(events.at(-1)!.egressInfo!.details).toBe('End reason: All streams stopped');
      await expectKeysHidden(id, [KEY_A, KEY_B, 'muxkey12345', 'doomed-key']);
    });

    it('UpdateStream errors: unknown, ended, non-streaming, bad or unknown URLs (valid parts still applied), no grant', async () => {
      const unknown = await serverError(egress.updateStream('EG_unknownunkno', [RTMP_A]));
      expect(unknown).toMatchObject({ status: 404, code: 'not_found', message: 'egress does not exist' });

      const { info: fileOnly } = await startRecording('update-file-only');
      await double.activateEgress(fileOnly.egressId);
      const notStreaming = await serverError(egress.updateStream(fileOnly.egressId, [RTMP_A]));
      expect(notStreaming).toMatchObject({ status: 400, code: 'invalid_argument', message: 'UpdateStream called on non-streaming egress' });

      const roomName = await streamRoom('update-errors');
      const ended = await egress.startRoomCompositeEgress(roomName, rtmp(RTMP_A));
      await double.activateEgress(ended.egressId);
      await double.endEgress(ended.egressId, { status: 'COMPLETE' });
      const tooLate = await serverError(egress.updateStream(ended.egressId, [RTMP_B]));
      expect(tooLate).toMatchObject({
        status: 412,
        code: 'failed_precondition',
        message: 'egress with status EGRESS_COMPLETE cannot be updated',
      });

      const info = await egress.startRoomCompositeEgress(roomName, rtmp(RTMP_A));
      const id = info.egressId;
      await double.activateEgress(id);
      // The redacted form copied from streamResults is not the URL.
      const redacted = await serverError(egress.updateStream(id, [], [RTMP_A_SHOWN]));
      expect(redacted).toMatchObject({ status: 404, code: 'not_found', message: `stream ${RTMP_A_SHOWN} not found` });
      const wrongScheme = await serverError(egress.updateStream(id, [SRT]));
      expect(wrongScheme).toMatchObject({ status: 400, code: 'invalid_argument', message: `invalid url ${SRT}: invalid scheme` });

      await double.webhooks.idle();
      const before = (await egressEvents(id)).length;
      const RTMP_C = 'rtmp://localhost:1936/live/stream';
      const mixed = await serverError(egress.updateStream(id, [SRT, RTMP_C], ['rtmp://nowhere.example.com/app/unknown-key']));
      expect(mixed).toMatchObject({
        status: 400,
        code: 'invalid_argument',
        message: `invalid url ${SRT}: invalid scheme\nstream rtmp://nowhere.example.com/app/unknown-key not found`,
      });
      // The valid addition went through and was reported.
      expect(entries(double.getEgress(id)!)).toEqual([
        [RTMP_A_SHOWN, 'ACTIVE', true],
        ['rtmp://localhost:1936/live/{st...am}', 'ACTIVE', true],
      ]);
      const reported = (await egressEvents(id)).slice(before);
      expect(reported.map((e) => [e.event, e.egressInfo!.streamResults.length])).toEqual([['egress_updated', 2]]);
      const twoMissing = await serverError(
        egress.updateStream(id, [], ['rtmp://x.example.com/app/nope-1', 'rtmp://x.example.com/app/nope-2']),
      );
      expect(twoMissing).toMatchObject({
        status: 404,
        code: 'not_found',
        message: 'stream rtmp://x.example.com/app/nope-1 not found\nstream rtmp://x.example.com/app/nope-2 not found',
      });

      const noGrant = await rawCall(
        '/twirp/livekit.Egress/UpdateStream',
        { egressId: id, addOutputUrls: [RTMP_B] },
        { grant: { roomAdmin: true, room: roomName } },
      );
      expect(noGrant.status).toBe(401);
      expect(double.getEgress(id)!.streamResults).toHaveLength(2);
    });
  });

  describe('auto lifecycle', () => {
    it('activates a started egress by itself and completes it after StopEgress', async () => {
      const auto = await LiveKitDouble.start({
        activateAfterMs: 5,
        defaultStorage: {
          endpoint: s3.endpoint,
          bucket: s3.bucket,
          accessKey: TEST_S3_CREDENTIALS.accessKeyId,
          secret: TEST_S3_CREDENTIALS.secretAccessKey,
          forcePathStyle: true,
        },
      });
      try {
        const client = new EgressClient(auto.url, auto.apiKey, auto.apiSecret);
        const roomName = unique('auto');
        auto.addParticipant(roomName, { identity: 'host', tracks: ['video'] });
        // No s3 block: egress's own storage config is used.
        const info = await client.startRoomCompositeEgress(
          roomName,
          new EncodedFileOutput({ fileType: EncodedFileType.MP4, filepath: 'recordings/{room_name}' }),
        );
        await auto.waitFor(() => auto.getEgress(info.egressId)?.status === EgressStatus.EGRESS_ACTIVE);
        expect((await client.stopEgress(info.egressId)).status).toBe(EgressStatus.EGRESS_ENDING);
        await auto.webhooks.idle(); // includes the pending completion
        expect(auto.getEgress(info.egressId)?.status).toBe(EgressStatus.EGRESS_COMPLETE);
        expect(await readObject(`recordings/${roomName}.mp4`)).toEqual(FIXTURE);
        // Without disableManifest, a manifest is uploaded next to the file.
        const done = auto.getEgress(info.egressId)!;
        expect(done.manifestLocation).toBe(`${s3.endpoint}/${s3.bucket}/recordings/${roomName}.mp4.json`);
        expect(JSON.parse((await readObject(`recordings/${roomName}.mp4.json`))!.toString('utf8'))).toMatchObject({
          egress_id: info.egressId,
        });
      } finally {
        await auto.close();
      }
    });
  });

  // A room composite goes ACTIVE on its page's start signal, which needs a published track
  // (EgressSimulator.awaitStartSignal in support/livekit-double/egress.ts cites livekit/egress).
  describe('a room composite starts once someone publishes', () => {
    let waiting: LiveKitDouble;
    let waitingEgress: EgressClient;
    let waitingRooms: RoomServiceClient;
    beforeAll(async () => {
      waiting = await LiveKitDouble.start({ activateAfterMs: 5 });
      waitingEgress = new EgressClient(waiting.url, waiting.apiKey, waiting.apiSecret);
      waitingRooms = new RoomServiceClient(waiting.url, waiting.apiKey, waiting.apiSecret);
    });
    afterAll(() => waiting.close());

    const statusOf = async (id: string) => (await waitingEgress.listEgress({ egressId: id }))[0]?.status;
    const recorderIn = async (roomName: string, id: string) =>
      (await waitingRooms.listParticipants(roomName)).find((p) => p.identity === id)?.kind === ParticipantInfo_Kind.EGRESS;
    const settle = () => new Promise((resolve) => setTimeout(resolve, 100));

    /** A recording started in a room where `tracks` are published by alice (nobody when empty). */
    async function startWith(label: string, tracks: Array<'audio' | 'video'>, options?: { audioOnly: boolean }) {
      const roomName = unique(label);
      await waitingRooms.createRoom({ name: roomName });
      waiting.addParticipant(roomName, { identity: 'alice', tracks });
      const info = await waitingEgress.startRoomCompositeEgress(roomName, fileOutput(`recordings/${roomName}`), options);
      await eventually(() => recorderIn(roomName, info.egressId), { what: 'the recorder in the room' });
      return { roomName, id: info.egressId };
    }

    it('stays STARTING with its recorder in the room while nobody publishes, and goes ACTIVE once a track is published', async () => {
      const { roomName, id } = await startWith('nobody-publishes', []);
      await settle();
      expect(await statusOf(id)).toBe(EgressStatus.EGRESS_STARTING);
      // The recorder is there: UpdateLayout finds it and answers with the egress, still STARTING.
      expect((await waitingEgress.updateLayout(id, 'speaker')).status).toBe(EgressStatus.EGRESS_STARTING);

      waiting.publishTrack(roomName, 'alice', 'video');
      await eventually(async () => (await statusOf(id)) === EgressStatus.EGRESS_ACTIVE, { what: 'ACTIVE' });
      const alice = (await waitingRooms.listParticipants(roomName)).find((p) => p.identity === 'alice');
      expect(alice?.tracks.map((t) => t.source)).toEqual([TrackSource.CAMERA]);
    });

    it('starts at once when someone already publishes', async () => {
      const { id } = await startWith('already-publishing', ['audio', 'video']);
      await eventually(async () => (await statusOf(id)) === EgressStatus.EGRESS_ACTIVE, { what: 'ACTIVE' });
    });

    it('records audio only once someone publishes audio: a camera alone does not start it', async () => {
      const { roomName, id } = await startWith('camera-only', ['video'], { audioOnly: true });
      await settle();
      expect(await statusOf(id)).toBe(EgressStatus.EGRESS_STARTING);
      waiting.publishTrack(roomName, 'alice', 'audio');
      await eventually(async () => (await statusOf(id)) === EgressStatus.EGRESS_ACTIVE, { what: 'ACTIVE' });
    });

    it('ends ABORTED "Start signal not received" when stopped while it waits, or when its room closes', async () => {
      const stopped = await startWith('stopped-waiting', []);
      expect((await waitingEgress.stopEgress(stopped.id)).status).toBe(EgressStatus.EGRESS_ABORTED);
      const closed = await startWith('closed-waiting', []);
      await waitingRooms.deleteRoom(closed.roomName);
      await eventually(async () => (await statusOf(closed.id)) === EgressStatus.EGRESS_ABORTED, { what: 'ABORTED' });
      for (const { id } of [stopped, closed]) {
        expect((await waitingEgress.listEgress({ egressId: id }))[0]).toMatchObject({ error: 'Start signal not received' });
      }
    });

    it('announces each published track (track_published) with the room, the publisher and the track', async () => {
      const seen = await Receiver.start();
      try {
        waiting.webhookUrls = [seen.url];
        const roomName = unique('announced');
        await waitingRooms.createRoom({ name: roomName });
        waiting.addParticipant(roomName, { identity: 'bob' });
        waiting.publishTrack(roomName, 'bob', 'audio');
        await waiting.webhooks.idle();
        const checker = new WebhookReceiver(waiting.apiKey, waiting.apiSecret);
        const events = await Promise.all(seen.received.map(({ body, authorization }) => checker.receive(body, authorization)));
        const published = events.filter((e) => e.event === 'track_published');
        expect(published).toHaveLength(1);
        expect(published[0].room?.name).toBe(roomName);
        expect(published[0].participant?.identity).toBe('bob');
        expect(published[0].track).toMatchObject({ type: TrackType.AUDIO, source: TrackSource.MICROPHONE });
        expect(published[0].track?.sid).toMatch(/^TR_/);
      } finally {
        waiting.webhookUrls = [];
        await seen.close();
      }
    });
  });

  describe('UpdateLayout while STARTING (manual lifecycle)', () => {
    it('answers 404 "participant does not exist" before the recorder joins and 200 after, the egress still STARTING', async () => {
      const { info } = await startRecording('layout-starting');
      expect(await serverError(egress.updateLayout(info.egressId, 'speaker'))).toMatchObject({
        status: 404,
        message: 'participant does not exist',
      });
      double.recorderJoins(info.egressId);
      expect((await egress.updateLayout(info.egressId, 'speaker')).status).toBe(EgressStatus.EGRESS_STARTING);
      await egress.stopEgress(info.egressId);
    });
  });
});

describe('egress file path templates', () => {
  const at = new Date(2024, 7, 22, 4, 13, 20, 7);
  const values = { roomName: 'my-room', roomId: 'RM_abc', at };

  it.each([
    ['recordings/{room_name}-{time}.mp4', 'recordings/my-room-2024-08-22T041320.mp4'],
    ['{room_id}/{utc}', 'RM_abc/20240822041320007.mp4'],
    ['', 'my-room-2024-08-22T041320.mp4'],
    ['dir/', 'dir/my-room-2024-08-22T041320.mp4'],
    ['x/{yyyy}/{room_name}', 'x/{yyyy}/my-room.mp4'],
    ['audio.ogg', 'audio.mp4'],
    ['name.v2', 'name.v2.mp4'],
  ])('%s → %s', (filepath, expected) => {
    expect(resolveFilepath(filepath, '.mp4', values)).toBe(expected);
  });
});
