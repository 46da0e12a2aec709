import { z } from 'zod';
import type { Logger } from '../platform/logger';
import type { S3Service } from '../storage/s3.service';
import { ROLES } from './access.model';

const sessionBoundSchema = z.object({ id: z.string(), startedAt: z.number() });
const pointerSchema = z.object({ id: z.string(), name: z.string().optional(), startedAt: z.number() });

/** Who may come into a room, kept per room name so it outlives every session of the room. */
export const roomAccessSchema = z.object({
  /** Who the room belongs to: the host application's user, or whoever claimed it in open admission. */
  owner: z.string().optional(),
  passcodeHash: z.string().optional(),
  moderatorPasscodeHash: z.string().optional(),
  /** Kinds whose passcode is shorter than the rule (set before it): learnt when one admits, cleared when it changes. */
  shortPasscodes: z.array(z.enum(ROLES)).optional(),
  /**
   * The session of whoever claimed the name in open admission, while their generated moderator
   * passcode is the room's: admitted by it, they stay bound to it. The host setting one clears it.
   */
  claimSession: sessionBoundSchema.optional(),
  claimedAt: z.number(),
});
export type RoomAccess = z.infer<typeof roomAccessSchema>;

/** Per room name: its current recording and stream (the latest this service started), and its access. */
export const roomRecordSchema = z.object({
  roomName: z.string(),
  currentRecording: pointerSchema.optional(),
  currentStream: pointerSchema.omit({ name: true }).optional(),
  access: roomAccessSchema.optional(),
  updatedAt: z.number(),
});
export type RoomRecord = z.infer<typeof roomRecordSchema>;

const jsonOrUndefined = (text: string): unknown => {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
};

/**
 * The room records, one JSON object per room name under `<S3_PREFIX>.rooms/`. A record that does
 * not read as one is an error, never "no record": that would let anyone claim the room.
 */
export class RoomStore {
  constructor(
    private readonly s3: S3Service,
    private readonly prefix: string,
    private readonly log: Logger,
  ) {}

  private key(roomName: string) {
    return `${this.prefix}.rooms/${encodeURIComponent(roomName)}.json`;
  }

  async get(roomName: string): Promise<RoomRecord | undefined> {
    const key = this.key(roomName);
    const text = await this.s3.getText(key);
    if (text === undefined) return undefined;
    const parsed = roomRecordSchema.safeParse(jsonOrUndefined(text));
    if (parsed.success) return parsed.data;
    this.log.error({ key }, 'a room record is not readable');
    throw new Error(`The room record of "${roomName}" is not readable`);
  }

  async put(room: RoomRecord): Promise<void> {
    await this.s3.putJson(this.key(room.roomName), room);
  }

  /** Gives a room name with recordings a record, if it has none, so that nobody can claim it. Under the room's lock. */
  async keep(roomName: string): Promise<void> {
    if (roomName && !(await this.get(roomName))) await this.put({ roomName, updatedAt: Date.now() });
  }
}
