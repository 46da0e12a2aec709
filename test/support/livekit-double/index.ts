import { DisconnectReason, type EgressInfo, type ParticipantInfo, type Room, RoomEndReason, type WebhookEvent } from '@livekit/protocol';
import { EventEmitter } from 'node:events';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { type EndOutcome, EgressSimulator, type HandlerSearch, LIVEKIT_HANDLER_SEARCH, type StreamUrlMatch } from './egress';
import { type Fault, FaultRegistry } from './faults';
import { type DataPacketRecord, type TwirpBackend, twirpServices } from './handlers';
import { Lifetime } from './lifetime';
import { type ParticipantSpec, RoomStore, type TrackKind } from './rooms';
import { type CallRecord, TwirpTransport } from './server';
import type { DefaultStorage } from './storage';
import { roomNotFound } from './twirp';
import { type SignOptions, type WebhookDelivery, WebhookSender } from './webhooks';
import { describeError } from '../eventually';

export type { CallRecord } from './server';
export type { DataPacketRecord } from './handlers';
export type { DefaultStorage } from './storage';
export type { EndOutcome, HandlerSearch, StreamUrlMatch } from './egress';
export { LIVEKIT_HANDLER_SEARCH } from './egress';
export type { Fault } from './faults';
export type { ParticipantSpec, TrackKind } from './rooms';
export type { SignOptions, WebhookDelivery } from './webhooks';

export interface LiveKitDoubleOptions {
  /** Default 'devkey' (what `livekit-server --dev` uses). */
  apiKey?: string;
  /** Default 'secret'. */
  apiSecret?: string;
  /** Where signed webhooks go; can be changed later through `double.webhookUrls`. */
  webhookUrls?: string[];
  /** The file uploaded as every recording; default test/fixtures/sample.mp4. */
  mediaFile?: string;
  /**
   * 'auto' (default): a started egress's recorder joins the room after activateAfterMs, and it goes
   * ACTIVE activateAfterMs after someone publishes a track (at once if someone already does); with
   * nobody publishing it stays STARTING. 'manual': it stays STARTING until recorderJoins()/activateEgress().
   */
  lifecycle?: 'auto' | 'manual';
  /** Default 20. */
  activateAfterMs?: number;
  /** 'auto' (default): after StopEgress the egress uploads and completes completeAfterMs later; 'manual': it stays ENDING until endEgress(). */
  stopCompletion?: 'auto' | 'manual';
  /** Default 20. */
  completeAfterMs?: number;
  /** LiveKit's (go-retryablehttp) defaults: 5 attempts, 1 s doubling up to 30 s. */
  webhookRetry?: { attempts?: number; initialDelayMs?: number; maxDelayMs?: number };
  /** LiveKit's defaults: 200 events per resource queue, 30 s in the queue. */
  webhookQueue?: { maxDepth?: number; maxAgeMs?: number };
  /** Egress's own storage config, used when a file output carries no s3 block. */
  defaultStorage?: DefaultStorage;
  /** How long StopEgress/UpdateStream look for an egress handler before LiveKit answers from its store; default LiveKit's 3 s / 15 s. */
  handlerSearch?: Partial<HandlerSearch>;
  /** The egress's cores, admitting by egress's costs (see egress-admission.ts); default: no budget, every start admitted. */
  cores?: number;
}

/** The knobs on outgoing webhooks. */
export interface WebhookKnobs {
  /** Events matching `filter` (default: all) are never delivered, `times` times (default: until clear()). */
  drop(filter?: (e: WebhookEvent) => boolean, times?: number): void;
  /** Events matching `filter` are delivered twice, with the same id. */
  duplicate(filter?: (e: WebhookEvent) => boolean, times?: number): void;
  /** Every delivery waits `ms` before its first attempt. */
  delay(ms: number): void;
  /** Events are kept back until release(). */
  hold(): void;
  /** Sends the held events one by one (each with its retries), in order or reversed; holding stops. */
  release(options?: { reverse?: boolean }): Promise<void>;
  /** Resolves when no delivery is queued or in flight and no egress is finishing (held events excluded). */
  idle(): Promise<void>;
  /** Removes every knob; held events are queued normally. */
  clear(): void;
}

const FIXTURES = path.join(__dirname, '..', '..', 'fixtures');
const DEFAULT_MEDIA = path.join(FIXTURES, 'sample.mp4');

interface Parts {
  options: LiveKitDoubleOptions;
  lifetime: Lifetime;
  media: Buffer;
  frames: { blank: Buffer; picture: Buffer };
}

/**
 * A LiveKit server (RoomService + Egress Twirp APIs, egress simulator, signed webhooks) in the test
 * process, following `livekit-contract.md`. Start one per test file with `LiveKitDouble.start()`.
 */
export class LiveKitDouble {
  readonly apiKey: string;
  readonly apiSecret: string;
  readonly calls: CallRecord[] = [];
  readonly dataPackets: DataPacketRecord[] = [];
  /** 'roomMetadataChanged' (roomName, metadata), 'dataReceived' (roomName, packet), 'webhook' (event, httpStatus). */
  readonly events = new EventEmitter();
  readonly webhooks: WebhookKnobs;

  private urls: string[];
  private readonly lifetime: Lifetime;
  private readonly faults = new FaultRegistry();
  private readonly sender: WebhookSender;
  private readonly rooms: RoomStore;
  private readonly egress: EgressSimulator;
  private transport!: TwirpTransport;
  private closing?: Promise<void>;

  static async start(options: LiveKitDoubleOptions = {}): Promise<LiveKitDouble> {
    const media = await readFile(options.mediaFile ?? DEFAULT_MEDIA);
    const frames = {
      blank: await readFile(path.join(FIXTURES, 'blank-frame.jpeg')),
      picture: await readFile(path.join(FIXTURES, 'frame.jpeg')),
    };
    const double = new LiveKitDouble({ options, lifetime: new Lifetime(), media, frames });
    await double.listen();
    return double;
  }

  private constructor({ options, lifetime, media, frames }: Parts) {
    this.apiKey = options.apiKey ?? 'devkey';
    this.apiSecret = options.apiSecret ?? 'secret';
    this.urls = [...(options.webhookUrls ?? [])];
    this.lifetime = lifetime;
    this.sender = new WebhookSender(
      {
        apiKey: this.apiKey,
        apiSecret: this.apiSecret,
        urls: () => this.urls,
        retry: { attempts: 5, initialDelayMs: 1000, maxDelayMs: 30_000, ...options.webhookRetry },
        queue: { maxDepth: 200, maxAgeMs: 30_000, ...options.webhookQueue },
      },
      lifetime,
      this.events,
    );
    const notify = (event: WebhookEvent) => this.sender.enqueue(event);
    this.rooms = new RoomStore(notify);
    this.egress = new EgressSimulator(this.rooms, notify, lifetime, {
      lifecycle: options.lifecycle ?? 'auto',
      activateAfterMs: options.activateAfterMs ?? 20,
      stopCompletion: options.stopCompletion ?? 'auto',
      completeAfterMs: options.completeAfterMs ?? 20,
      media,
      frames,
      defaultStorage: options.defaultStorage,
      handlerSearch: { ...LIVEKIT_HANDLER_SEARCH, ...options.handlerSearch },
      cores: options.cores,
    });
    this.webhooks = this.knobs();
  }

  /** 'http://127.0.0.1:<port>', what the SDK clients are given. */
  get url(): string {
    return this.transport.url;
  }

  get webhookUrls(): string[] {
    return this.urls;
  }

  set webhookUrls(urls: string[]) {
    this.urls = urls;
  }

  /** Every webhook delivery (one per event and URL), in the order the events were produced. */
  get deliveries(): WebhookDelivery[] {
    return this.sender.deliveries;
  }

  /** Stops the server, timers, uploads and deliveries; safe to call twice. */
  close(): Promise<void> {
    this.closing ??= (async () => {
      const transportClosed = this.transport.close();
      await this.lifetime.close();
      await transportClosed;
      this.events.removeAllListeners();
    })();
    return this.closing;
  }

  // ---- rooms ----

  /** As CreateRoom: a new room (room_started), or the live one unchanged. */
  createRoom(name: string, metadata?: string): Room {
    return this.rooms.create({ name, metadata }).clone();
  }

  getRoom(name: string): Room | undefined {
    return this.rooms.get(name)?.clone();
  }

  listRooms(): Room[] {
    return this.rooms.list([]).map((room) => room.clone());
  }

  /**
   * Closes the room as its empty/departure timeout would: participants leave (ROOM_CLOSED),
   * room_finished, and its egresses end (§4.7). Resolves once they have ended.
   */
  async closeRoom(name: string): Promise<void> {
    if (!this.rooms.close(name, DisconnectReason.ROOM_CLOSED, RoomEndReason.ROOM_END_IDLE_TIMEOUT))
      throw new Error(`room "${name}" does not exist`);
    await this.egress.roomClosed(name);
  }

  /**
   * A participant reaches the room (participant_joined) and publishes its `tracks` (track_published
   * each); an unknown room is created, as LiveKit's auto_create does.
   */
  addParticipant(roomName: string, participant: ParticipantSpec): ParticipantInfo {
    const joined = this.rooms.join(roomName, participant).clone();
    if (participant.tracks?.length) this.egress.trackPublished(roomName);
    return this.rooms.participant(roomName, participant.identity)?.clone() ?? joined;
  }

  /** The participant publishes a camera or microphone track (track_published); egresses waiting in the room may start. */
  publishTrack(roomName: string, identity: string, kind: TrackKind = 'video'): void {
    this.rooms.publish(roomName, identity, kind);
    this.egress.trackPublished(roomName);
  }

  /** The participant leaves by itself (participant_left, CLIENT_INITIATED). */
  removeParticipant(roomName: string, identity: string): void {
    if (!this.rooms.leave(roomName, identity, DisconnectReason.CLIENT_INITIATED)) {
      throw new Error(`participant "${identity}" is not in room "${roomName}"`);
    }
  }

  listParticipants(roomName: string): ParticipantInfo[] {
    return this.rooms.participants(roomName).map((p) => p.clone());
  }

  // ---- egress ----

  getEgress(id: string): EgressInfo | undefined {
    return this.egress.get(id);
  }

  listEgresses(): EgressInfo[] {
    return this.egress.list();
  }

  /** Manual lifecycle: the egress's recorder joins the room (participant_joined, kind EGRESS); it stays STARTING. */
  recorderJoins(id: string): void {
    this.egress.recorderJoins(id);
  }

  /** STARTING → ACTIVE (egress_updated), whoever publishes; a no-op for an egress that is already ACTIVE. */
  activateEgress(id: string): Promise<void> {
    this.egress.activate(id);
    return Promise.resolve();
  }

  /** Ends an egress as the test says; resolves once egress_ended is queued (after the upload, if any). */
  endEgress(id: string, outcome: EndOutcome): Promise<void> {
    return this.egress.end(id, outcome);
  }

  /** The egress's handler claims StopEgress/UpdateStream and never answers: LiveKit answers after `handlerSearch.unansweredMs`. */
  hangEgressHandler(id: string): void {
    this.egress.hangHandler(id);
  }

  /** Forgets an egress as LiveKit does 24 h after it ended: ListEgress/StopEgress then answer 404. */
  forgetEgress(id: string): boolean {
    return this.egress.forget(id);
  }

  /**
   * A live stream of an ACTIVE egress fails now (`url`: the real URL, as in the request). Another
   * output left: the entry turns FAILED and egress_updated reports it; the last output: the egress
   * ends FAILED (error_code 503). Resolves once the event is queued.
   */
  async failStream(egressId: string, url: string, error?: string): Promise<void> {
    await this.egress.failStream(egressId, url, error);
  }

  // ---- faults ----

  /** The next `times` calls of `method` ('ListRooms' or 'RoomService/ListRooms') fail as `fault` says. */
  failNext(method: string, fault: Fault, times = 1): void {
    this.faults.add(method, fault, times);
  }

  /** The next call of `method` acts at once but is answered only when the returned function is called. */
  holdNext(method: string): () => void {
    let release!: () => void;
    this.failNext(method, {
      until: new Promise<void>((resolve) => {
        release = resolve;
      }),
    });
    return release;
  }

  /**
   * Stream URLs matching `match` (the real URL, mux/twitch shorthands expanded, or a predicate on it)
   * fail with `error` when they would connect: when their egress goes ACTIVE, or when UpdateStream
   * adds them to an ACTIVE one. Lasts until clearFaults().
   */
  failStreamUrl(match: StreamUrlMatch, error?: string): void {
    this.egress.failStreamUrl(match, error);
  }

  /** Removes failNext and failStreamUrl faults. */
  clearFaults(): void {
    this.faults.clear();
    this.egress.clearStreamFaults();
  }

  // ---- webhooks ----

  /** The `Authorization` value LiveKit would send for `body` (other key, secret or validity to forge one). */
  signWebhook(body: string, options?: SignOptions): Promise<string> {
    return Promise.resolve(this.sender.sign(body, options));
  }

  /** Signs and POSTs one event to every webhook URL now, without retries; not recorded in `deliveries`. */
  sendWebhook(event: WebhookEvent): Promise<number> {
    return this.sender.sendOnce(event);
  }

  // ---- observation ----

  /** Polls `check` every 10 ms until it returns something other than undefined/false; rejects after `timeoutMs`. */
  async waitFor<T>(check: () => T | undefined | false, timeoutMs = 5000): Promise<T> {
    const deadline = Date.now() + timeoutMs;
    let lastError: unknown;
    for (;;) {
      let value: T | undefined | false;
      try {
        value = check();
      } catch (error) {
        lastError = error;
      }
      // A promise is always truthy: the check would pass at once.
      if (value instanceof Promise) throw new TypeError('waitFor checks synchronously: use eventually() for an async check');
      if (value !== undefined && value !== false) return value;
      if (Date.now() >= deadline) {
        throw new Error(
          `LiveKitDouble.waitFor: not met within ${timeoutMs} ms${lastError ? ` (last error: ${describeError(lastError)})` : ''}`,
        );
      }
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
  }

  private async listen(): Promise<void> {
    this.transport = await TwirpTransport.listen({
      services: twirpServices(this.backend()),
      keys: new Map([[this.apiKey, this.apiSecret]]),
      faults: this.faults,
      calls: this.calls,
      lifetime: this.lifetime,
    });
  }

  private backend(): TwirpBackend {
    return {
      rooms: this.rooms,
      egress: this.egress,
      deleteRoom: (name) => {
        if (!this.rooms.close(name, DisconnectReason.ROOM_DELETED, RoomEndReason.ROOM_END_API_DELETE)) throw roomNotFound();
        // The egresses end on their own time, after DeleteRoom has answered.
        this.egress.roomClosed(name).catch(() => undefined);
      },
      metadataChanged: (room, metadata) => this.events.emit('roomMetadataChanged', room, metadata),
      dataReceived: (packet) => {
        this.dataPackets.push(packet);
        this.events.emit('dataReceived', packet.room, packet);
      },
    };
  }

  private knobs(): WebhookKnobs {
    const sender = this.sender;
    const egress = this.egress;
    return {
      drop: (filter, times) => sender.drop(filter, times),
      duplicate: (filter, times) => sender.duplicate(filter, times),
      delay: (ms) => sender.delay(ms),
      hold: () => sender.hold(),
      release: (options) => sender.release(options),
      clear: () => sender.clearKnobs(),
      // An egress that is finishing is about to produce events: wait for both to be quiet.
      idle: async () => {
        do {
          await egress.settled();
          await sender.idle();
        } while (egress.busy || sender.busy);
      },
    };
  }
}
