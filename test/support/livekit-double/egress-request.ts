import { EncodedFileOutput, EncodedFileType, EncodingOptionsPreset, type RoomCompositeEgressRequest, S3Upload } from '@livekit/protocol';
import { goTime, goUtc } from './ids';
import { type ChosenStream, chooseStream, redactEchoUrl } from './streams';
import { TwirpError, invalidField } from './twirp';

/**
 * The checks egress makes before accepting a room-composite request (`pkg/config/pipeline.go`,
 * `encoding.go`), reported as 400 `invalid_argument` like egress does.
 */
export function validateRequest(req: RoomCompositeEgressRequest): void {
  if (req.audioOnly && req.videoOnly) throw invalidField('audio_only and video_only');
  if (req.customBaseUrl && !/^https?:\/\//i.test(req.customBaseUrl)) throw invalidField('template base url');
  if (req.options.case === 'preset' && req.options.value === EncodingOptionsPreset.PASSTHROUGH) throw invalidField('preset');
  if (req.options.case === 'advanced') {
    const { width, height, depth } = req.options.value;
    if (width !== 0 && (width < 16 || width % 2 !== 0)) throw invalidField('width');
    if (height !== 0 && (height < 16 || height % 2 !== 0)) throw invalidField('height');
    if (![0, 8, 16, 24].includes(depth)) throw invalidField('depth');
  }
}

export interface ChosenOutputs {
  /** `fileOutputs[0]`, else the deprecated `file` member. */
  file?: EncodedFileOutput;
  stream?: ChosenStream;
}

/**
 * The outputs egress records, checked in its order (`output.go` `updateEncodedOutputs`). The double
 * simulates S3 files, images and RTMP/SRT streams, so other outputs are refused as `unimplemented`
 * rather than silently ignored.
 */
export function chooseOutputs(req: RoomCompositeEgressRequest): ChosenOutputs {
  if (req.fileOutputs.length > 1) throw invalidField('multiple file outputs');
  const file = req.fileOutputs[0] ?? (req.output.case === 'file' ? req.output.value : undefined);
  if (file && file.output.case !== undefined && file.output.case !== 's3') {
    throw new TwirpError('unimplemented', `the LiveKit double uploads to S3 only (not ${file.output.case})`);
  }
  const stream = chooseStream(req, Boolean(file) || req.imageOutputs.length + req.segmentOutputs.length > 0);
  if (req.segmentOutputs.length > 0 || req.output.case === 'segments') {
    throw new TwirpError('unimplemented', 'the LiveKit double simulates file, stream and image outputs only (no segments)');
  }
  // Images need video (livekit/egress@e948d1eba056eab21f2a24e32fbc5a245f972eeb pkg/config/output.go:187-189; audio_only leaves video off, pipeline.go:257).
  if (req.audioOnly && req.imageOutputs.length > 0) throw invalidField('audio_only images');
  if (req.imageOutputs.length > 1) throw invalidField('multiple image outputs');
  // Images alone are not simulated: they ride along a file or a stream output.
  if (!file && !stream) throw invalidField('output');
  return { file, stream };
}

const EXTENSIONS: Record<number, { ext: string; contentType: string }> = {
  [EncodedFileType.MP4]: { ext: '.mp4', contentType: 'video/mp4' },
  [EncodedFileType.OGG]: { ext: '.ogg', contentType: 'audio/ogg' },
  [EncodedFileType.MP3]: { ext: '.mp3', contentType: 'audio/mpeg' },
};

/** MP4 unless asked otherwise; an audio-only default is OGG, as in egress. */
export function fileFormat(output: EncodedFileOutput, audioOnly: boolean) {
  const type =
    output.fileType !== EncodedFileType.DEFAULT_FILETYPE ? output.fileType : audioOnly ? EncodedFileType.OGG : EncodedFileType.MP4;
  return EXTENSIONS[type] ?? EXTENSIONS[EncodedFileType.MP4];
}

export interface TemplateValues {
  roomName: string;
  roomId: string;
  at: Date;
}

/**
 * The storage path egress writes (`output_file.go` `getFilenameInfo`/`updateFilepath`): known
 * placeholders substituted in one pass, unknown `{…}` kept as is, `<room_name>-<time>` for an empty
 * path or a directory, and the extension of the file type appended (a wrong known one replaced).
 */
export function resolveFilepath(filepath: string, ext: string, values: TemplateValues): string {
  const named = filepath === '' || filepath.endsWith('/') ? `${filepath}{room_name}-{time}` : filepath;
  const substitutions: Record<string, string> = {
    room_name: values.roomName,
    room_id: values.roomId,
    time: goTime(values.at),
    utc: goUtc(values.at),
  };
  const resolved = named.replace(/\{(room_name|room_id|time|utc)\}/g, (_, key: string) => substitutions[key]);
  if (resolved.endsWith(ext)) return resolved;
  const wrong = Object.values(EXTENSIONS).find(({ ext: other }) => resolved.endsWith(other));
  return wrong ? resolved.slice(0, -wrong.ext.length) + ext : resolved + ext;
}

/**
 * Credentials and stream keys never leave egress: the echoed request shows placeholders, for the
 * file and the image outputs alike (livekit/protocol@d74e7cdb9835928ffa9c6bc6b3e4c7f07de61c43
 * egress/redact.go:69-87).
 */
export function redactRequest(req: RoomCompositeEgressRequest): RoomCompositeEgressRequest {
  const copy = req.clone();
  const uploads = [...copy.fileOutputs, ...copy.imageOutputs, ...(copy.output.case === 'file' ? [copy.output.value] : [])];
  for (const upload of uploads) {
    if (upload.output.case === 's3') upload.output.value = redactS3(upload.output.value);
  }
  const streams = [...copy.streamOutputs, ...(copy.output.case === 'stream' ? [copy.output.value] : [])];
  for (const stream of streams) stream.urls = stream.urls.map(redactEchoUrl);
  return copy;
}

/** Each set secret of an S3 upload replaced by its name (protocol egress/redact.go:33-38). */
function redactS3(s3: S3Upload): S3Upload {
  const copy = s3.clone();
  if (copy.accessKey) copy.accessKey = '{access_key}';
  if (copy.secret) copy.secret = '{secret}';
  if (copy.assumeRoleExternalId) copy.assumeRoleExternalId = '{external_id}';
  if (copy.sessionToken) copy.sessionToken = '{session_token}';
  return copy;
}
