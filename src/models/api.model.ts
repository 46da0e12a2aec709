import { z } from 'zod';
import { badRequest } from './app-error';

/** Control characters could break a header or a log line; everything else of any script is welcome. */
const noControlCharacters = (value: string) => !/\p{Cc}/u.test(value);

export const roomNameSchema = z
  .string({ error: 'roomName is required' })
  .min(1, 'roomName is required')
  .max(256, 'roomName is at most 256 characters')
  .refine(noControlCharacters, 'roomName must not contain control characters');

export const participantNameSchema = z
  .string({ error: 'participantName is required' })
  .min(1, 'participantName is required')
  .max(128, 'participantName is at most 128 characters')
  .refine(noControlCharacters, 'participantName must not contain control characters');

/** A recording's handle: one path segment, never "/", "\", a control character or a leading ".". */
export const recordingNameSchema = z
  .string()
  .min(1)
  .max(255)
  .refine((name) => !/[/\\]/.test(name) && noControlCharacters(name) && !name.startsWith('.'), 'not a recording name');

export const tokenRequestSchema = z.object({ roomName: roomNameSchema, participantName: participantNameSchema });
export const roomRequestSchema = z.object({ roomName: roomNameSchema });

export const listQuerySchema = z.object({
  roomName: roomNameSchema.optional(),
  roomId: z.string().min(1).max(64).optional(),
  limit: z.coerce.number().int().min(1).max(100).default(50),
  cursor: z.string().min(1).max(512).optional(),
});

export const recordingParamsSchema = z.object({ name: recordingNameSchema });

/** Parses request input or answers 400 with every problem, one per line. */
export function parseInput<T extends z.ZodType>(schema: T, value: unknown): z.infer<T> {
  const parsed = schema.safeParse(value ?? {});
  if (parsed.success) return parsed.data;
  const problems = parsed.error.issues.map((issue) => (issue.path.length ? `${issue.path.join('.')}: ` : '') + issue.message);
  throw badRequest(problems.join('; '), { problems });
}
