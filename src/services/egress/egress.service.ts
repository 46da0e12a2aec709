import {
  EgressClient,
  type EgressInfo,
  EncodedFileOutput,
  EncodedFileType,
  EgressStatus,
  EncodingOptionsPreset,
  ImageFileSuffix,
  ImageOutput,
  S3Upload,
  StreamOutput,
  StreamProtocol,
} from 'livekit-server-sdk';
import { fileResultOf } from '../recordings/recording.model';
import { type Layout, type RecordingOptions, roomCompositeOptions } from '../recordings/recording-options.model';
import { AppError, badRequest, conflict, notFound } from '../platform/app-error';
import { maskStreamUrlsIn, type StreamOptions, streamProtocolOf } from '../streams/stream.model';
import { egressUnknown, livekitError, noRecorderClaimed, retryTransient, twirpCode } from '../platform/livekit-errors';
import type { S3Settings } from '../storage/s3.service';

/** S3 object metadata that marks an egress (and its media) as one this service started. */
export const OWNER_METADATA_KEY = 'recording-manager';
/** Also on the media object, so a recording whose sidecar was lost can be adopted from what it tells. */
export const ROOM_METADATA_KEY = 'room-name';

/** An error whose message may quote a stream URL, with the key masked. */
function masked(error: AppError): AppError {
  error.message = maskStreamUrlsIn(error.message);
  return error;
}

/** LiveKit's refusal of a destination (a URL it will not stream to) is the caller's mistake: 400. */
function destinationError(error: unknown): AppError | undefined {
  if (twirpCode(error) !== 'invalid_argument') return undefined;
  return masked(badRequest(`LiveKit refused a destination: ${(error as Error).message}`));
}

/** How long a caller refused for want of a recorder is told to wait (Retry-After): about one more LiveKit search. */
export const RECORDER_RETRY_AFTER_SECONDS = 10;

/** No egress claimed the start: the caller may try again once one is free. */
function recorderUnavailable(error: unknown): AppError | undefined {
  if (!noRecorderClaimed(error)) return undefined;
  return new AppError(503, 'recorder_unavailable', 'no recorder available (egress busy or not running)', {
    retryAfterSeconds: RECORDER_RETRY_AFTER_SECONDS,
  });
}

/** COMPLETE, FAILED, ABORTED or LIMIT_REACHED: nothing left to stop or update. */
const hasEnded = (info: EgressInfo) => info.status >= EgressStatus.EGRESS_COMPLETE;

/** A stop's outcome: `stopped` when LiveKit took it, else the egress had already ended (its final info). */
export interface StopOutcome {
  info: EgressInfo;
  stopped: boolean;
}

const notActive = (kind: 'recording' | 'stream') => conflict(`${kind}_not_active`, `The ${kind} has already ended`);

/** LiveKit Egress: room-composite MP4 recordings uploaded straight to our bucket. */
export class EgressService {
  /**
   * @param waitingClient for StopEgress and UpdateStream, with LIVEKIT_EGRESS_TIMEOUT: LiveKit answers
   * them only once it has looked for the egress's handler (3 s for an ended one, 15 s for a stuck one).
   */
  constructor(
    private readonly client: EgressClient,
    private readonly s3: S3Settings,
    private readonly appName: string,
    private readonly waitingClient: EgressClient = client,
  ) {}

  /**
   * Starts a room-composite MP4 to `filepath` in our bucket. The upload settings travel with the request
   * (egress may reach S3 by another address), and the S3 metadata marks the egress as ours: LiveKit echoes
   * the request in every EgressInfo, so a webhook tells us it is ours even before this call returns.
   */
  async startRecording(
    roomName: string,
    filepath: string,
    options: RecordingOptions,
    thumbnails?: { prefix: string; intervalMs: number },
  ): Promise<EgressInfo> {
    const upload = () => ({ case: 's3' as const, value: this.upload(roomName) });
    const file = new EncodedFileOutput({ fileType: EncodedFileType.MP4, filepath, disableManifest: true, output: upload() });
    // Egress captures an image every interval into our bucket; the first useful one becomes the poster.
    const images =
      thumbnails &&
      new ImageOutput({
        captureInterval: Math.max(1, Math.round(thumbnails.intervalMs / 1000)),
        width: 640,
        height: 360,
        filenamePrefix: thumbnails.prefix,
        filenameSuffix: ImageFileSuffix.IMAGE_SUFFIX_INDEX,
        disableManifest: true,
        output: upload(),
      });
    try {
      return await this.client.startRoomCompositeEgress(roomName, images ? { file, images } : file, roomCompositeOptions(options));
    } catch (error) {
      throw recorderUnavailable(error) ?? livekitError(error, 'start the recording', `Room "${roomName}" does not exist`);
    }
  }

  /** Our bucket, and the marks that tell an egress (and its media) is ours and of which room. */
  private upload(roomName: string): S3Upload {
    return new S3Upload({
      accessKey: this.s3.accessKey,
      secret: this.s3.secretKey,
      region: this.s3.region,
      endpoint: this.s3.egressEndpoint,
      bucket: this.s3.bucket,
      forcePathStyle: true,
      metadata: { [OWNER_METADATA_KEY]: this.appName, [ROOM_METADATA_KEY]: encodeURIComponent(roomName) },
    });
  }

  /**
   * The recorder page's layout (LiveKit tells the recorder through its participant metadata). A
   * STARTING egress whose recorder has not joined yet answers 404 "participant does not exist"
   * (livekit/livekit pkg/service/egress.go UpdateLayout): nothing to tell yet, the caller keeps the layout.
   */
  async updateLayout(egress: EgressInfo, layout: Layout): Promise<void> {
    try {
      await this.client.updateLayout(egress.egressId, layout);
    } catch (error) {
      if (twirpCode(error) !== 'not_found') throw livekitError(error, 'change the layout');
      if (egress.status !== EgressStatus.EGRESS_STARTING)
        throw conflict('recording_not_active', 'The recording is not running (yet or any more)');
    }
  }

  /** Stops it; 409 `<kind>_not_active` when it has already ended or LiveKit no longer knows it. */
  async stop(egressId: string, kind: 'recording' | 'stream' = 'recording'): Promise<EgressInfo> {
    const outcome = await this.stopUnlessEnded(egressId, kind);
    if (!outcome?.stopped) throw notActive(kind);
    return outcome.info;
  }

  /**
   * Stops it unless ListEgress says it has ended (LiveKit would take seconds to refuse that); undefined
   * when LiveKit no longer knows it. A stop that fails or times out is checked the same way, so an
   * egress that ended meanwhile is an outcome, not an error.
   */
  async stopUnlessEnded(egressId: string, kind: 'recording' | 'stream'): Promise<StopOutcome | undefined> {
    const before = await this.find(egressId);
    if (!before || hasEnded(before)) return before && { info: before, stopped: false };
    try {
      return { info: await this.waitingClient.stopEgress(egressId), stopped: true };
    } catch (error) {
      const after = await this.endedSince(error, egressId);
      if (after === 'running') throw livekitError(error, `stop the ${kind}`);
      return after && { info: after, stopped: false };
    }
  }

  /** After a failed stop or update: its final info, undefined when LiveKit no longer knows it, or 'running'. */
  private async endedSince(error: unknown, egressId: string): Promise<EgressInfo | undefined | 'running'> {
    if (error instanceof AppError) throw error;
    const info = await this.find(egressId);
    return !info || hasEnded(info) ? info : 'running';
  }

  /**
   * A live stream of the room to RTMP(S) or SRT destinations (one protocol per stream, as egress
   * wants). LiveKit quotes the raw URL, stream key included, in its errors: they are masked here.
   */
  async startStream(roomName: string, urls: string[], options: StreamOptions): Promise<EgressInfo> {
    const protocol = streamProtocolOf(urls[0]) === 'srt' ? StreamProtocol.SRT : StreamProtocol.RTMP;
    try {
      return await this.client.startRoomCompositeEgress(roomName, new StreamOutput({ protocol, urls }), {
        layout: options.layout,
        encodingOptions: options.preset ? EncodingOptionsPreset[options.preset] : undefined,
      });
    } catch (error) {
      throw (
        recorderUnavailable(error) ??
        destinationError(error) ??
        masked(livekitError(error, 'start the stream', `Room "${roomName}" does not exist`))
      );
    }
  }

  /** Adds and removes destinations of a running stream (removals name the original URL); 409 once it has ended. */
  async updateStream(egressId: string, addUrls: string[], removeUrls: string[]): Promise<EgressInfo> {
    try {
      return await this.waitingClient.updateStream(egressId, addUrls, removeUrls);
    } catch (error) {
      const code = twirpCode(error);
      if (code === 'failed_precondition' || egressUnknown(error)) throw notActive('stream');
      if (code === 'not_found') throw masked(notFound(`Not a destination of this stream: ${(error as Error).message}`));
      const refused = destinationError(error);
      if (refused) throw refused;
      if ((await this.endedSince(error, egressId)) !== 'running') throw notActive('stream');
      throw masked(livekitError(error, 'update the stream'));
    }
  }

  /** Our recordings in a room that have not ended yet, newest first. */
  async activeRecordings(roomName: string): Promise<EgressInfo[]> {
    return (await this.active(roomName)).filter((info) => this.isOurRecording(info));
  }

  /** Every egress of the room that has not ended yet, newest first. */
  async active(roomName: string): Promise<EgressInfo[]> {
    try {
      const items = await retryTransient(() => this.client.listEgress({ roomName, active: true }));
      return items.sort((a, b) => Number(b.startedAt - a.startedAt));
    } catch (error) {
      throw livekitError(error, "list the room's egresses");
    }
  }

  /** Every egress LiveKit knows: the active ones and those ended within its retention (a day). */
  async listAll(): Promise<EgressInfo[]> {
    try {
      return await retryTransient(() => this.client.listEgress({}));
    } catch (error) {
      throw livekitError(error, 'list egresses');
    }
  }

  /** One egress, or undefined when LiveKit no longer knows it. */
  async find(egressId: string): Promise<EgressInfo | undefined> {
    try {
      const [info] = await retryTransient(() => this.client.listEgress({ egressId }));
      return info;
    } catch (error) {
      if (twirpCode(error) === 'not_found') return undefined;
      throw livekitError(error, 'look up an egress');
    }
  }

  /** An egress this service started to record a file into our bucket (not a stream, not another app's). */
  isOurRecording(info: EgressInfo): boolean {
    if (!fileResultOf(info)) return false;
    const request = info.request.case === 'roomComposite' ? info.request.value : undefined;
    const output = request?.fileOutputs[0] ?? (request?.output.case === 'file' ? request.output.value : undefined);
    const upload = output?.output.case === 's3' ? output.output.value : undefined;
    return upload?.bucket === this.s3.bucket && upload.metadata[OWNER_METADATA_KEY] === this.appName;
  }
}
