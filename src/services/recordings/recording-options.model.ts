import { EncodingOptions, EncodingOptionsPreset } from 'livekit-server-sdk';
import { z } from 'zod';

export const LAYOUTS = ['grid', 'speaker', 'single-speaker'] as const;
export type Layout = (typeof LAYOUTS)[number];

/** LiveKit's encoding presets for room composites (PASSTHROUGH is for single tracks only). */
export const PRESETS = [
  'H264_720P_30',
  'H264_720P_60',
  'H264_1080P_30',
  'H264_1080P_60',
  'PORTRAIT_H264_720P_30',
  'PORTRAIT_H264_720P_60',
  'PORTRAIT_H264_1080P_30',
  'PORTRAIT_H264_1080P_60',
] as const;
export type Preset = (typeof PRESETS)[number];

const evenSize = (field: string, max: number) =>
  z
    .number({ error: `${field} must be a number of pixels` })
    .int(`${field} must be a whole number`)
    .min(16, `${field} is at least 16`)
    .max(max, `${field} is at most ${max}`)
    .refine((n) => n % 2 === 0, `${field} must be even`);
const bounded = (field: string, min: number, max: number, unit: string) =>
  z
    .number({ error: `${field} must be a number (${unit})` })
    .int(`${field} must be a whole number`)
    .min(min, `${field} is at least ${min}`)
    .max(max, `${field} is at most ${max}`);

/** Explicit video settings, instead of a preset. */
export const encodingSchema = z
  .object({
    width: evenSize('width', 3840).optional(),
    height: evenSize('height', 3840).optional(),
    fps: bounded('fps', 1, 60, 'frames per second').optional(),
    videoBitrate: bounded('videoBitrate', 100, 20_000, 'kbps').optional(),
    audioBitrate: bounded('audioBitrate', 16, 512, 'kbps').optional(),
  })
  .strict();
export type Encoding = z.infer<typeof encodingSchema>;
export const ENCODING_FIELDS = Object.keys(encodingSchema.shape) as Array<keyof Encoding>;

/** What the host application attaches to a recording: a small flat object, filterable by key and value. */
export const recordingMetadataSchema = z
  .record(
    z
      .string()
      .min(1)
      .max(64, 'metadata keys are at most 64 characters')
      .regex(/^[\w.-]+$/, 'metadata keys are letters, digits, "_", "-" and "."'),
    z.union([z.string().max(256, 'metadata values are at most 256 characters'), z.number(), z.boolean()], {
      error: 'metadata values must be strings, numbers or booleans',
    }),
  )
  .refine((value) => Object.keys(value).length <= 20, 'metadata has at most 20 keys')
  .refine((value) => JSON.stringify(value).length <= 2048, 'metadata is at most 2 kB');
export type RecordingMetadata = z.infer<typeof recordingMetadataSchema>;

/** How a recording is made, as kept in its sidecar. */
export const recordingOptionsSchema = z.object({
  layout: z.enum(LAYOUTS),
  preset: z.enum(PRESETS).optional(),
  encoding: encodingSchema.optional(),
  audioOnly: z.boolean(),
});
export type RecordingOptions = z.infer<typeof recordingOptionsSchema>;

/** The options as LiveKit's SDK takes them. */
export function roomCompositeOptions(options: RecordingOptions) {
  return {
    layout: options.layout,
    audioOnly: options.audioOnly,
    encodingOptions: options.preset
      ? EncodingOptionsPreset[options.preset]
      : options.encoding
        ? new EncodingOptions({
            width: options.encoding.width,
            height: options.encoding.height,
            framerate: options.encoding.fps,
            videoBitrate: options.encoding.videoBitrate,
            audioBitrate: options.encoding.audioBitrate,
          })
        : undefined,
  };
}
