import {
  DisconnectReason,
  EgressInfo,
  EgressSourceType,
  EgressStatus,
  type EncodedFileOutput,
  FileInfo,
  type ImageOutput,
  ImagesInfo,
  Room,
  type RoomCompositeEgressRequest,
  StreamInfo_Status,
  StreamInfoList,
  type StreamProtocol,
  WebhookEvent,
} from '@livekit/protocol';
import { EGRESS_DEFAULT_MAX_CPU_UTILIZATION, egressAdmits, roomCompositeCost } from '../egress-admission';
import { chooseOutputs, fileFormat, redactRequest, resolveFilepath, validateRequest } from './egress-request';
import { newId, nowNs } from './ids';
import type { Lifetime } from './lifetime';
import { MAX_METADATA_BYTES, type RoomStore } from './rooms';
import { type DefaultStorage, locationOf, putObject, targetFor } from './storage';
import {
  DEFAULT_STREAM_ERROR,
  closeStreamInfo,
  expandShorthand,
  isLive,
  newStreamInfo,
  streamNotFound,
  validateStreamUrl,
} from './streams';
import { TwirpError, egressNotFound, participantNotFound, roomNotFound } from './twirp';

export type EndStatus = 'COMPLETE' | 'FAILED' | 'ABORTED' | 'LIMIT_REACHED';

export interface EndOutcome {
  status: EndStatus;
  error?: string;
  /** COMPLETE without the ENDING update (§6 caveats: it can be coalesced away). */
  skipEnding?: boolean;
  /** Nothing is uploaded (size 0, no location). */
  skipUpload?: boolean;
}

export interface EgressSimulatorOptions {
  lifecycle: 'auto' | 'manual';
  activateAfterMs: number;
  /** 'auto': after StopEgress the egress uploads and completes by itself; 'manual': it stays ENDING until endEgress(). */
  stopCompletion: 'auto' | 'manual';
  completeAfterMs: number;
  media: Buffer;
  /** What image outputs capture: a black frame first (before any video), then real frames. */
  frames: { blank: Buffer; picture: Buffer };
  defaultStorage?: DefaultStorage;
  handlerSearch: HandlerSearch;
  /** The egress's cores: undefined admits every request (no CPU budget). */
  cores?: number;
}

/**
 * How long LiveKit looks for the egress handler of a StopEgress/UpdateStream before it gives up and
 * answers from the stored egress (livekit/livekit@788d4c354474383956067e3a22ffba88dd4803e4
 * pkg/service/egress.go:340 and :384, then GetEgress at :343/:387). The call is a psrpc
 * RequestSingle on the egress id's topic with require_claim (livekit/protocol@d74e7cdb9835928ffa9c6bc6b3e4c7f07de61c43
 * rpc/egress.psrpc.go:227-228) through the handler client, retried by the server's default
 * psrpc config (livekit pkg/config/config.go:595; protocol rpc/egress_client.go:91): 3 attempts, 3 s timeout + 2 s more
 * per retry (rpc/typed_api.go:39-43, :82-87; livekit/psrpc@220fe5f93ac5d843ea72dd08de1efc1ada2ef176
 * pkg/middleware/retry.go:57-77, :91-119: Unavailable and DeadlineExceeded are retried).
 */
export interface HandlerSearch {
  /** No handler claims (ended or unknown egress): 3 attempts × the 1 s selection timeout, each ErrNoResponse (psrpc pkg/client/options.go:35, rpc.go:180-206). */
  unclaimedMs: number;
  /** A handler claims and never answers: 3 + 5 + 7 s, each ErrRequestTimedOut (psrpc pkg/client/rpc.go:128, :157-163). */
  unansweredMs: number;
  /**
   * No egress claims a StartEgress (each is short of CPU): each attempt ends at StartEgress's 1 s
   * affinity window with ErrNoResponse (livekit/protocol@d74e7cdb9835928ffa9c6bc6b3e4c7f07de61c43
   * rpc/egress_client.go:102-110; livekit/psrpc@220fe5f93ac5d843ea72dd08de1efc1ada2ef176 pkg/client/rpc.go:180-206,
   * errors.go:34), retried as recoverable (egress_client.go:44-52) 3 times with 1 s x 2^(attempt-1) x rand[1,2)
   * between (:30-31, :66-83; retry loop psrpc pkg/middleware/retry.go:80-119): 6 to 9 s in all.
   */
  startUnclaimedMs: number;
}

/** What LiveKit does by default (see HandlerSearch). */
export const LIVEKIT_HANDLER_SEARCH: HandlerSearch = {
  unclaimedMs: 3 * 1000,
  unansweredMs: 3000 + 5000 + 7000,
  startUnclaimedMs: 3 * 1000 + 1500 + 3000,
};

/** How many images an image output has captured by the end (the blank one included). */
export const CAPTURED_IMAGES = 3;

// ABORTED errors (livekit/protocol@d74e7cdb9835928ffa9c6bc6b3e4c7f07de61c43 livekit/livekit_egress.go:13-16).
const MSG_START_NOT_RECEIVED = 'Start signal not received';
const MSG_STOPPED_BEFORE_STARTED = 'Stop called before pipeline could start';

// End reasons egress writes into `details` (protocol `livekit_egress.go` `SetEndReason`).
const END_API = 'StopEgress API';
const END_SOURCE_CLOSED = 'Source closed';
const END_FAILURE = 'Failure';
const END_LIMIT = 'Session limit reached';
const END_STREAMS_STOPPED = 'All streams stopped';

/** Which stream URLs fail when they would connect (`failStreamUrl`), and with what error text. */
export type StreamUrlMatch = string | ((url: string) => boolean);
interface StreamFault {
  matches: (url: string) => boolean;
  error: string;
}

/** The stream output of an egress as the double runs it; `targets[i]` belongs to `info.streamResults[i]`. */
interface StreamOutputs {
  protocol: StreamProtocol;
  /** The real URL (kept only to match removals and failure knobs) and whether its connection was attempted. */
  targets: Array<{ url: string; connected: boolean }>;
}

/** What an ending sets beyond the status (FinishOutcome.errorCode: 503 for a failed last stream). */
type FinishOutcome = Omit<EndOutcome, 'status'> & { errorCode?: number };

interface EgressRecord {
  info: EgressInfo;
  /** The request's file output with its real credentials (the info only carries the redacted echo). */
  output?: EncodedFileOutput;
  contentType: string;
  /** The image output with its real credentials, when the request had one. */
  images?: ImageOutput;
  streams?: StreamOutputs;
  endReason: string;
  /** Cancels a pending auto-activation or auto-completion. */
  cancelPending?: () => void;
  /** Set while the final upload/egress_ended step runs: nothing else may end it then. */
  finishing?: Promise<void>;
  /** The recorder (identity = egress id) is in the room: its page waits for a track to start on. */
  recorderJoined?: boolean;
  /** A track is there: the page's start signal comes activateAfterMs later. */
  startSignalDue?: boolean;
}

const isEnded = (status: EgressStatus) => status >= EgressStatus.EGRESS_COMPLETE;
const statusName = (status: EgressStatus) => EgressStatus[status];
/** UpdateStream reaches the egress handler only while it runs (§8.2). */
const isUpdatable = (record: EgressRecord) => !isEnded(record.info.status) && !record.finishing;

/**
 * The egress service: room composites to a file (+ images) and/or RTMP/SRT streams that move through
 * STARTING → ACTIVE → ENDING → COMPLETE (or FAILED / ABORTED / LIMIT_REACHED); a file output gets
 * the fixture uploaded as the recording.
 */
export class EgressSimulator {
  private readonly records = new Map<string, EgressRecord>();
  private readonly work = new Set<Promise<void>>();
  private streamFaults: StreamFault[] = [];
  /** Egresses whose handler claims StopEgress/UpdateStream and never answers (`hangHandler`). */
  private readonly hung = new Set<string>();

  constructor(
    private readonly rooms: RoomStore,
    private readonly notify: (event: WebhookEvent) => void,
    private readonly lifetime: Lifetime,
    private readonly options: EgressSimulatorOptions,
  ) {}

  /** StartRoomCompositeEgress: validates like egress, waits for an egress with CPU to spare, then returns the STARTING info (egress_started sent). */
  async start(req: RoomCompositeEgressRequest): Promise<EgressInfo> {
    const room = this.rooms.get(req.roomName);
    if (!room) throw roomNotFound();
    validateRequest(req);
    if (!this.admits(req)) await this.giveUpUnclaimed();
    const { file: output, stream } = chooseOutputs(req);
    const format = output && fileFormat(output, req.audioOnly);
    const values = { roomName: room.name, roomId: room.sid, at: new Date() };
    const now = nowNs();
    const info = new EgressInfo({
      egressId: newId('EG_'),
      roomId: room.sid,
      roomName: room.name,
      sourceType: req.audioOnly && !req.layout && !req.customBaseUrl ? EgressSourceType.SDK : EgressSourceType.WEB,
      status: EgressStatus.EGRESS_STARTING,
      startedAt: now,
      updatedAt: now,
      request: { case: 'roomComposite', value: redactRequest(req) },
      fileResults: output && format ? [new FileInfo({ filename: resolveFilepath(output.filepath, format.ext, values) })] : [],
      streamResults: stream?.targets.map((target) => newStreamInfo(target, stream.protocol, now)) ?? [],
    });
    const images = req.imageOutputs[0];
    if (images) {
      const filenamePrefix = resolveFilepath(images.filenamePrefix || '{room_name}-{time}', '', values);
      info.imageResults = [new ImagesInfo({ filenamePrefix, startedAt: now })];
    }
    const streams = stream && { protocol: stream.protocol, targets: stream.targets.map(({ url }) => ({ url, connected: false })) };
    const record: EgressRecord = { info, output, contentType: format?.contentType ?? '', images, streams, endReason: '' };
    syncLegacyResult(record);
    this.records.set(info.egressId, record);
    this.emit(record, 'egress_started');
    if (this.options.lifecycle === 'auto') {
      // Egress launches its source (Chrome on the template page, or the SDK client): the recorder joins.
      record.cancelPending = this.lifetime.timer(this.options.activateAfterMs, () => {
        if (!this.isWaiting(record)) return;
        this.joinRecorder(record);
        this.awaitStartSignal(record);
      });
    }
    return info.clone();
  }

  /** Still STARTING and not forgotten: a stop or a room close may have come before a timer fired. */
  private isWaiting(record: EgressRecord): boolean {
    return record.info.status === EgressStatus.EGRESS_STARTING && this.records.get(record.info.egressId) === record;
  }

  /** The recorder joins while the egress is still STARTING (both sources join before they wait for the start signal). */
  private joinRecorder(record: EgressRecord): void {
    if (record.recorderJoined) return;
    record.recorderJoined = true;
    if (this.rooms.get(record.info.roomName)) this.rooms.join(record.info.roomName, { identity: record.info.egressId, kind: 'EGRESS' });
  }

  /**
   * A room composite goes ACTIVE only on its source's start signal (AwaitStartSignal,
   * livekit/egress@e948d1eba056eab21f2a24e32fbc5a245f972eeb pkg/config/pipeline.go:239; the controller
   * waits for it with no timeout of its own, pkg/pipeline/controller.go:285-296). The stock template
   * sends START_RECORDING once it has subscribed to a track (template-default/src/Room.tsx:66-111;
   * pkg/pipeline/source/web.go:323-325); the audio-only SDK source starts when audio flows
   * (pkg/pipeline/source/sdk.go:94-101). Nobody publishing: it stays STARTING.
   */
  private awaitStartSignal(record: EgressRecord): void {
    if (!this.isWaiting(record) || !record.recorderJoined || record.startSignalDue) return;
    const { roomName, request } = record.info;
    const audioOnly = request.case === 'roomComposite' && request.value.audioOnly;
    if (!this.rooms.hasPublisher(roomName, audioOnly ? 'audio' : undefined)) return;
    record.startSignalDue = true;
    record.cancelPending = this.lifetime.timer(this.options.activateAfterMs, () => {
      if (this.isWaiting(record)) this.activate(record.info.egressId);
    });
  }

  /** A track was published in the room: the egresses waiting there may get their start signal. */
  trackPublished(roomName: string): void {
    if (this.options.lifecycle !== 'auto') return;
    for (const record of this.records.values()) if (record.info.roomName === roomName) this.awaitStartSignal(record);
  }

  /** Test knob (manual lifecycle): the recorder joins the room; the egress stays STARTING. */
  recorderJoins(id: string): void {
    const record = this.require(id);
    if (record.info.status !== EgressStatus.EGRESS_STARTING)
      throw new Error(`egress ${id} is ${statusName(record.info.status)}: its recorder joined when it started`);
    this.joinRecorder(record);
  }

  /** Whether an egress with `cores` claims the request: egress's costs and admission (../egress-admission.ts). */
  private admits(req: RoomCompositeEgressRequest): boolean {
    const { cores } = this.options;
    if (cores === undefined) return true;
    const running = [...this.records.values()].filter(({ info }) => !isEnded(info.status));
    const costs = running.map(({ info }) => roomCompositeCost(info.request.case === 'roomComposite' && info.request.value.audioOnly));
    return egressAdmits(cores, EGRESS_DEFAULT_MAX_CPU_UTILIZATION, costs, roomCompositeCost(req.audioOnly));
  }

  /** No egress claimed the StartEgress: LiveKit answers psrpc's ErrNoResponse after its retries (HandlerSearch.startUnclaimedMs). */
  private async giveUpUnclaimed(): Promise<never> {
    if (!(await this.lifetime.sleep(this.options.handlerSearch.startUnclaimedMs)))
      throw new TwirpError('unavailable', 'LiveKit double closed');
    throw new TwirpError('unavailable', 'no response from servers');
  }

  get(id: string): EgressInfo | undefined {
    return this.records.get(id)?.info.clone();
  }

  /** ListEgress: one by id (404 if unknown), else by room; `active` keeps status < COMPLETE. */
  list(filter: { egressId?: string; roomName?: string; active?: boolean } = {}): EgressInfo[] {
    if (filter.egressId) {
      const record = this.records.get(filter.egressId);
      if (!record) throw egressNotFound();
      return [record.info.clone()];
    }
    return [...this.records.values()]
      .map((r) => r.info)
      .filter((info) => !filter.roomName || info.roomName === filter.roomName)
      .filter((info) => !filter.active || !isEnded(info.status))
      .map((info) => info.clone());
  }

  /** LiveKit forgets ended egresses 24 h after they end; tests can do it at once. */
  forget(id: string): boolean {
    this.records.get(id)?.cancelPending?.();
    this.hung.delete(id);
    return this.records.delete(id);
  }

  /** STARTING → ACTIVE: the start signal came and media started (the recorder joins first if it has not). Already ACTIVE: nothing to do. */
  activate(id: string): void {
    const record = this.require(id);
    const { info } = record;
    if (info.status === EgressStatus.EGRESS_ACTIVE) return;
    if (info.status !== EgressStatus.EGRESS_STARTING)
      throw new Error(`egress ${id} is ${statusName(info.status)}: it can no longer become active`);
    record.cancelPending?.();
    info.status = EgressStatus.EGRESS_ACTIVE;
    const file = this.file(record);
    if (file) file.startedAt = nowNs();
    this.touch(record);
    this.joinRecorder(record);
    this.emit(record, 'egress_updated');
    // The pipeline plays: the stream connections come up (or fail) right after (§8.1 rows 2–3).
    const connected = this.connectStreams(record);
    if (connected.changed) void this.reportStreams(record, connected.error);
  }

  /**
   * StopEgress (§4.4): ACTIVE → ENDING then completes shortly after; STARTING → ABORTED. Ended
   * (412) or unknown (404) only once LiveKit has looked for a handler and given up (HandlerSearch).
   */
  async stop(id: string): Promise<EgressInfo> {
    const record = await this.reachHandler(id, 'stopped');
    this.sendEos(record, END_API);
    return record.info.clone();
  }

  /** Test knob: the egress's handler claims StopEgress/UpdateStream and never answers (a stuck egress process). */
  hangHandler(id: string): void {
    this.require(id);
    this.hung.add(id);
  }

  /**
   * The record whose handler answers the call, or LiveKit's answer once the psrpc call failed: it
   * then loads the egress (404 "egress does not exist", pkg/service/errors.go:22) and answers 412 for
   * any status but STARTING/ACTIVE, else the psrpc error (livekit/livekit@788d4c354474383956067e3a22ffba88dd4803e4
   * pkg/service/egress.go:341-356, :385-400).
   */
  private async reachHandler(id: string, verb: 'stopped' | 'updated'): Promise<EgressRecord> {
    const record = this.records.get(id);
    if (record && this.hasHandler(record)) return record;
    const hung = record !== undefined && this.hung.has(id);
    const { unclaimedMs, unansweredMs } = this.options.handlerSearch;
    if (!(await this.lifetime.sleep(hung ? unansweredMs : unclaimedMs))) throw new TwirpError('unavailable', 'LiveKit double closed');
    const stored = this.records.get(id);
    if (!stored) throw egressNotFound();
    const { status } = stored.info;
    if (status === EgressStatus.EGRESS_STARTING || status === EgressStatus.EGRESS_ACTIVE) {
      // Claimed and never answered: ErrRequestTimedOut (psrpc pkg/client/rpc.go:157-163), passed through.
      throw new TwirpError('deadline_exceeded', 'request timed out');
    }
    throw new TwirpError('failed_precondition', `egress with status ${statusName(status)} cannot be ${verb}`);
  }

  /**
   * Egress serves the egress id's topic from launch until its process ends (livekit/egress@e948d1eba056eab21f2a24e32fbc5a245f972eeb
   * pkg/service/handler_proxy.go:49-63, process.go:355); the double's process ends with the egress.
   */
  private hasHandler(record: EgressRecord): boolean {
    return !isEnded(record.info.status) && !this.hung.has(record.info.egressId);
  }

  /**
   * UpdateStream (§8.2): additions validated like at Start and appended, then removals by real URL;
   * valid parts apply even when others fail; the errors come back joined, with the first one's code.
   */
  async updateStream(id: string, add: string[], remove: string[]): Promise<EgressInfo> {
    const record = await this.reachHandler(id, 'updated');
    if (!isUpdatable(record))
      throw new TwirpError('failed_precondition', `egress with status ${statusName(record.info.status)} cannot be updated`);
    const { streams } = record;
    if (!streams) throw new TwirpError('invalid_argument', 'UpdateStream called on non-streaming egress');
    const errors: TwirpError[] = [];
    const collect = (step: () => void) => {
      try {
        step();
      } catch (error) {
        if (!(error instanceof TwirpError)) throw error;
        errors.push(error);
      }
    };
    for (const url of add) collect(() => this.addStream(record, streams, url));
    for (const url of remove) collect(() => this.removeStream(record, streams, url));
    const changed = errors.length < add.length + remove.length;
    this.afterStreamUpdate(record, changed);
    if (errors.length > 0) throw new TwirpError(errors[0].code, errors.map((e) => e.msg).join('\n'));
    return record.info.clone();
  }

  /** Test knob: stream URLs matching `match` (exact real URL, shorthands expanded, or a predicate) fail when they would connect. */
  failStreamUrl(match: StreamUrlMatch, error = DEFAULT_STREAM_ERROR): void {
    const matches = typeof match === 'string' ? (url: string) => url === expandShorthand(match) : match;
    this.streamFaults.push({ matches, error });
  }

  clearStreamFaults(): void {
    this.streamFaults = [];
  }

  /**
   * Test knob: a live stream of an ACTIVE egress fails now (§8.1 "one RTMP destination fails"). Another
   * output left: the entry turns FAILED and an egress_updated reports it; the last one: the egress
   * fails (503). Resolves once the resulting event is queued.
   */
  failStream(id: string, url: string, error = DEFAULT_STREAM_ERROR): Promise<void> {
    const record = this.require(id);
    if (record.info.status !== EgressStatus.EGRESS_ACTIVE || record.finishing)
      throw new Error(`egress ${id} is ${statusName(record.info.status)}: only an ACTIVE egress has streams to fail`);
    const { streams } = record;
    const index = streams ? this.liveIndex(record, streams, url) : -1;
    if (!streams || index < 0) throw new Error(`egress ${id} has no live stream ${url}`);
    streams.targets[index].connected = true;
    closeStreamInfo(record.info.streamResults[index], StreamInfo_Status.FAILED, nowNs(), error);
    return this.reportStreams(record, error);
  }

  /** UpdateLayout (§8.3): the recorder's metadata changes; the stored info is returned unchanged, no webhook. */
  updateLayout(id: string, layout: string): EgressInfo {
    const record = this.records.get(id);
    if (!record) throw egressNotFound();
    const metadata = JSON.stringify({ layout });
    if (Buffer.byteLength(metadata) > MAX_METADATA_BYTES) throw new TwirpError('invalid_argument', 'metadata size exceeds limits');
    if (!this.rooms.setParticipantMetadata(record.info.roomName, id, metadata)) throw participantNotFound();
    return record.info.clone();
  }

  /** Ends an egress the way the test says (see EndOutcome); resolves once egress_ended is queued. */
  async end(id: string, outcome: EndOutcome): Promise<void> {
    const record = this.require(id);
    const { status } = record.info;
    if (isEnded(status)) throw new Error(`egress ${id} has already ended (${statusName(status)})`);
    if (record.finishing) throw new Error(`egress ${id} is already finishing (uploading or about to end)`);
    const starting = status === EgressStatus.EGRESS_STARTING;
    if (outcome.status === 'ABORTED' && !starting)
      throw new Error(`egress ${id} is ${statusName(status)}: only a STARTING egress can be ABORTED`);
    if (outcome.status === 'COMPLETE' && starting)
      throw new Error(`egress ${id} is STARTING: activate it before completing it, or end it ABORTED/FAILED`);
    record.cancelPending?.();
    switch (outcome.status) {
      case 'ABORTED':
        return this.abort(record, outcome.error ?? MSG_STOPPED_BEFORE_STARTED, END_API);
      case 'LIMIT_REACHED':
        if (starting) return this.abort(record, outcome.error ?? 'Session limit reached before start signal', END_LIMIT);
        record.endReason = END_LIMIT;
        return this.finish(record, EgressStatus.EGRESS_LIMIT_REACHED, outcome);
      case 'FAILED':
        record.endReason = END_FAILURE;
        return this.finish(record, EgressStatus.EGRESS_FAILED, outcome);
      case 'COMPLETE':
        if (status === EgressStatus.EGRESS_ACTIVE) {
          if (outcome.skipEnding) record.endReason = END_API;
          else this.beginEnding(record, END_API);
        }
        return this.finish(record, EgressStatus.EGRESS_COMPLETE, outcome);
    }
  }

  /** The room closed under the egress (§4.7): ACTIVE → ENDING "Source closed" → COMPLETE; STARTING → ABORTED. */
  async roomClosed(roomName: string): Promise<void> {
    const endings = [...this.records.values()]
      .filter((r) => r.info.roomName === roomName && !isEnded(r.info.status) && !r.finishing)
      .map((record) => {
        record.cancelPending?.();
        if (record.info.status === EgressStatus.EGRESS_STARTING) {
          this.abort(record, MSG_START_NOT_RECEIVED, END_SOURCE_CLOSED);
          return Promise.resolve();
        }
        if (record.info.status === EgressStatus.EGRESS_ACTIVE) this.beginEnding(record, END_SOURCE_CLOSED);
        return this.finish(record, EgressStatus.EGRESS_COMPLETE, {});
      });
    await Promise.all(endings);
  }

  /** Resolves when no completion is scheduled and no upload is running. */
  async settled(): Promise<void> {
    while (this.work.size > 0) await Promise.all([...this.work]);
  }

  get busy(): boolean {
    return this.work.size > 0;
  }

  private require(id: string): EgressRecord {
    const record = this.records.get(id);
    if (!record) throw new Error(`unknown egress ${id}`);
    return record;
  }

  private file(record: EgressRecord): FileInfo | undefined {
    return record.info.fileResults[0];
  }

  private touch(record: EgressRecord): void {
    record.info.updatedAt = nowNs();
    syncLegacyResult(record);
  }

  /**
   * EOS (StopEgress, or UpdateStream removing the last output): ACTIVE → ENDING then completion;
   * STARTING → ABORTED. One already waiting for its start signal ends with "Start signal not
   * received": the stop breaks that wait, which overwrites the error SendEOS set
   * (livekit/egress@e948d1eba056eab21f2a24e32fbc5a245f972eeb pkg/pipeline/controller.go:286-293, :519-522).
   */
  private sendEos(record: EgressRecord, reason: string): void {
    const { status } = record.info;
    if (status === EgressStatus.EGRESS_STARTING) {
      this.abort(record, record.recorderJoined ? MSG_START_NOT_RECEIVED : MSG_STOPPED_BEFORE_STARTED, reason);
    } else if (status === EgressStatus.EGRESS_ACTIVE) {
      this.beginEnding(record, reason);
      if (this.options.stopCompletion === 'auto') this.scheduleCompletion(record);
    }
  }

  // ---- streams ----

  /** Outputs still producing: the file, each image output, each live stream (egress `OutputCount`). */
  private liveOutputs(record: EgressRecord): number {
    const { info } = record;
    return info.fileResults.length + info.imageResults.length + info.streamResults.filter(isLive).length;
  }

  /** The live entry whose real URL is `url` (mux/twitch shorthands expanded), or -1. */
  private liveIndex(record: EgressRecord, streams: StreamOutputs, url: string): number {
    const real = expandShorthand(url);
    return streams.targets.findIndex((target, i) => target.url === real && isLive(record.info.streamResults[i]));
  }

  private addStream(record: EgressRecord, streams: StreamOutputs, url: string): void {
    const target = validateStreamUrl(url, streams.protocol);
    streams.targets.push({ url: target.url, connected: false });
    record.info.streamResults.push(newStreamInfo(target, streams.protocol, nowNs()));
  }

  private removeStream(record: EgressRecord, streams: StreamOutputs, url: string): void {
    const index = this.liveIndex(record, streams, url);
    if (index < 0) throw streamNotFound(url);
    closeStreamInfo(record.info.streamResults[index], StreamInfo_Status.FINISHED, nowNs());
  }

  /**
   * After UpdateStream changed something: new URLs connect if the pipeline plays; then the last
   * output gone ends the egress (a removal) or fails it (a failed URL), else egress_updated (ACTIVE).
   */
  private afterStreamUpdate(record: EgressRecord, changed: boolean): void {
    const connected = record.info.status === EgressStatus.EGRESS_ACTIVE ? this.connectStreams(record) : { changed: false };
    if (this.liveOutputs(record) === 0 && !connected.error) return this.sendEos(record, END_STREAMS_STOPPED);
    if (changed || connected.changed) void this.reportStreams(record, connected.error);
  }

  /**
   * Connects the entries not tried yet: RTMP ones get startedAt, those a knob names fail. Egress
   * holds its update back until all of them are up or failed, so the caller reports once.
   */
  private connectStreams(record: EgressRecord): { changed: boolean; error?: string } {
    const result: { changed: boolean; error?: string } = { changed: false };
    for (const [i, target] of (record.streams?.targets ?? []).entries()) {
      const entry = record.info.streamResults[i];
      if (target.connected || !isLive(entry)) continue;
      target.connected = true;
      const fault = this.streamFaults.find((f) => f.matches(target.url));
      if (fault) {
        closeStreamInfo(entry, StreamInfo_Status.FAILED, nowNs(), fault.error);
        result.error = fault.error;
        result.changed = true;
      } else if (entry.startedAt === 0n) {
        entry.startedAt = nowNs(); // SRT entries started with the egress already
        result.changed = true;
      }
    }
    return result;
  }

  /** Streams changed: egress_updated while an output is left (none for STARTING, §6); otherwise the failure was the last output. */
  private reportStreams(record: EgressRecord, error: string | undefined): Promise<void> {
    if (this.liveOutputs(record) > 0) {
      this.touch(record);
      if (record.info.status === EgressStatus.EGRESS_ACTIVE) this.emit(record, 'egress_updated');
      return Promise.resolve();
    }
    // The stream error wrapped as psrpc Unavailable (§8.1).
    record.endReason = END_FAILURE;
    return this.finish(record, EgressStatus.EGRESS_FAILED, { error: error ?? DEFAULT_STREAM_ERROR, errorCode: 503, skipUpload: true });
  }

  /** Egress webhooks carry only `{sid, name}` of the room next to the full info. */
  private emit(record: EgressRecord, event: 'egress_started' | 'egress_updated' | 'egress_ended'): void {
    const { info } = record;
    this.notify(new WebhookEvent({ event, room: new Room({ sid: info.roomId, name: info.roomName }), egressInfo: info.clone() }));
  }

  private recorderLeaves(record: EgressRecord): void {
    this.rooms.leave(record.info.roomName, record.info.egressId, DisconnectReason.CLIENT_INITIATED);
  }

  /** EOS sent: status ENDING with the end reason; end times are not known yet (§6 row 3). */
  private beginEnding(record: EgressRecord, reason: string): void {
    record.endReason = reason;
    record.info.status = EgressStatus.EGRESS_ENDING;
    record.info.details = `End reason: ${reason}`;
    this.touch(record);
    this.recorderLeaves(record);
    this.emit(record, 'egress_updated');
  }

  /** Never started: ABORTED, error_code 412, nothing uploaded. */
  private abort(record: EgressRecord, error: string, reason: string): void {
    record.cancelPending?.();
    const { info } = record;
    info.status = EgressStatus.EGRESS_ABORTED;
    info.error = error;
    info.errorCode = 412;
    info.details = `End reason: ${reason}`;
    info.endedAt = nowNs();
    this.touch(record);
    this.recorderLeaves(record);
    this.emit(record, 'egress_ended');
  }

  /** After StopEgress the pipeline drains and uploads by itself, shortly after the ENDING answer. */
  private scheduleCompletion(record: EgressRecord): void {
    let cancelled = false;
    record.cancelPending = () => {
      cancelled = true;
    };
    this.run(async () => {
      const waited = await this.lifetime.sleep(this.options.completeAfterMs);
      if (!waited || cancelled || record.finishing || isEnded(record.info.status)) return;
      await this.finish(record, EgressStatus.EGRESS_COMPLETE, {});
    }).catch((error: unknown) => console.error('LiveKit double: the scheduled completion failed', error));
  }

  /** The last step: upload (when the status produces a file), fill the results, egress_ended. */
  private finish(record: EgressRecord, status: EgressStatus, outcome: FinishOutcome): Promise<void> {
    record.cancelPending?.();
    this.recorderLeaves(record);
    const finishing = this.run(async () => {
      const producesFiles =
        (status === EgressStatus.EGRESS_COMPLETE || status === EgressStatus.EGRESS_LIMIT_REACHED) && !outcome.skipUpload;
      const upload = producesFiles && record.output ? await this.upload(record, record.output) : undefined;
      if (producesFiles && !upload?.error && record.images) await this.uploadImages(record);
      const failed = upload?.error !== undefined;
      this.applyEnd(
        record,
        failed ? EgressStatus.EGRESS_FAILED : status,
        outcome.error ?? upload?.error,
        failed ? undefined : outcome.errorCode,
      );
      const file = this.file(record);
      if (file && upload && !upload.error) Object.assign(file, { size: BigInt(upload.size), location: upload.location });
      if (upload?.manifestLocation) record.info.manifestLocation = upload.manifestLocation;
      this.touch(record);
      this.emit(record, 'egress_ended');
    });
    record.finishing = finishing;
    return finishing;
  }

  private applyEnd(record: EgressRecord, status: EgressStatus, error: string | undefined, errorCode = 500): void {
    const { info } = record;
    const file = this.file(record);
    info.status = status;
    info.endedAt = nowNs();
    info.details = `End reason: ${record.endReason || END_API}`;
    if (file && file.startedAt > 0n) {
      file.endedAt = info.endedAt;
      file.duration = file.endedAt - file.startedAt;
    }
    // Streams still live end with the egress: FINISHED, or FAILED when it failed (`Close`).
    const streamStatus = status === EgressStatus.EGRESS_FAILED ? StreamInfo_Status.FAILED : StreamInfo_Status.FINISHED;
    for (const entry of info.streamResults.filter(isLive)) closeStreamInfo(entry, streamStatus, info.endedAt);
    if (status === EgressStatus.EGRESS_FAILED) {
      info.error = error || 'pipeline failure';
      info.errorCode = errorCode;
    } else if (status === EgressStatus.EGRESS_LIMIT_REACHED) {
      info.error = error || 'Session limit reached';
      info.errorCode = 413;
    }
  }

  /**
   * The images captured while recording, `<prefix>_00000.jpeg`…: a black frame, then pictures, each
   * a real JPEG made distinct by a comment naming the egress and the index.
   */
  private async uploadImages(record: EgressRecord): Promise<void> {
    const result = record.info.imageResults[0];
    const target = targetFor(record.images!, this.options.defaultStorage);
    for (let index = 0; index < CAPTURED_IMAGES; index++) {
      const frame = withComment(index === 0 ? this.options.frames.blank : this.options.frames.picture, `${record.info.egressId}#${index}`);
      if (target) await putObject(target, imageKey(result.filenamePrefix, index), frame, 'image/jpeg', this.lifetime.signal);
    }
    result.imageCount = BigInt(CAPTURED_IMAGES);
    result.endedAt = nowNs();
  }

  /** Uploads the media (and a manifest unless disabled) with the output's own S3 settings. */
  private async upload(
    record: EgressRecord,
    output: EncodedFileOutput,
  ): Promise<{ size: number; location: string; manifestLocation?: string; error?: string }> {
    const key = this.file(record)?.filename ?? '';
    const media = this.options.media;
    const target = targetFor(output, this.options.defaultStorage);
    // No storage at all: egress keeps the file on its local disk; the location is the local path.
    if (!target) return { size: media.length, location: key };
    try {
      await putObject(target, key, media, record.contentType, this.lifetime.signal);
      const location = locationOf(target, key);
      if (output.disableManifest) return { size: media.length, location };
      const manifestKey = `${key}.json`;
      await putObject(
        target,
        manifestKey,
        Buffer.from(JSON.stringify(manifestOf(record, key, location))),
        'application/json',
        this.lifetime.signal,
      );
      return { size: media.length, location, manifestLocation: locationOf(target, manifestKey) };
    } catch (error) {
      return { size: 0, location: '', error: `upload failed: ${error instanceof Error ? error.message : String(error)}` };
    }
  }

  /** Background work that idle()/close() wait for. */
  private run(task: () => Promise<void>): Promise<void> {
    const promise = this.lifetime.track(task());
    this.work.add(promise);
    const done = () => {
      this.work.delete(promise);
    };
    promise.then(done, done);
    return promise;
  }
}

/** `IMAGE_SUFFIX_INDEX`: `<prefix>_00000.jpeg` (§8.4). */
export const imageKey = (prefix: string, index: number) => `${prefix}_${String(index).padStart(5, '0')}.jpeg`;

/** A JPEG with a comment segment (COM, 0xFFFE) right after its start marker: same picture, other bytes. */
export function withComment(jpeg: Buffer, text: string): Buffer {
  const comment = Buffer.from(text, 'utf8');
  const header = Buffer.from([0xff, 0xfe, (comment.length + 2) >> 8, (comment.length + 2) & 0xff]);
  return Buffer.concat([jpeg.subarray(0, 2), header, comment, jpeg.subarray(2)]);
}

/**
 * The deprecated `result` member, set only for a single kind of output: `file` for a file alone,
 * `stream` for streams alone; none with images or for file + stream (livekit/egress@e948d1eba056eab21f2a24e32fbc5a245f972eeb
 * pkg/config/output.go:72-73, :384-392).
 */
function syncLegacyResult(record: EgressRecord): void {
  const { info } = record;
  const [file] = info.fileResults;
  if (file && !record.streams && info.imageResults.length === 0) info.result = { case: 'file', value: file.clone() };
  else if (!file && info.imageResults.length === 0)
    info.result = { case: 'stream', value: new StreamInfoList({ info: info.streamResults.map((s) => s.clone()) }) };
}

/** The manifest egress uploads next to a file (shape approximated from egress `pkg/config/manifest.go`). */
function manifestOf(record: EgressRecord, filename: string, location: string) {
  const { info } = record;
  return {
    egress_id: info.egressId,
    room_id: info.roomId,
    room_name: info.roomName,
    started_at: Number(info.startedAt),
    ended_at: Number(nowNs()),
    files: [{ filename, location }],
  };
}
