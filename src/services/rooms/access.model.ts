import { z } from 'zod';
/** What a person may do in their room, and the roles that carry a set of these. */
export const PERMISSIONS = ['record', 'list', 'play', 'delete', 'stream'] as const;
export type Permission = (typeof PERMISSIONS)[number];
export const ROLES = ['moderator', 'participant'] as const;
export type Role = (typeof ROLES)[number];

/**
 * The participant attribute our LiveKit tokens carry the role in, signed with the token. It is named
 * after APP_NAME, so a LiveKit token minted for any other use (another application on the same
 * LiveKit, an egress, an agent) is not a credential here.
 */
export const roleAttribute = (appName: string) => `${appName}.role`;

/** New passcodes have at least this many characters; older, shorter ones admit until changed. */
export const PASSCODE_MIN_LENGTH = 8;

/**
 * The session (LiveKit room sid and creation time, ms) a person admitted openly was admitted to,
 * signed into their token beside the role: they see only its recordings and those of later sessions.
 */
export interface SessionBound {
  id: string;
  startedAt: number;
}
export const sessionAttributes = (appName: string) => ({ id: `${appName}.session`, startedAt: `${appName}.sessionStart` });

/**
 * A recording of the bound's session, or of a later one: a recording starts while its session is
 * live, and a room name has one live session at a time, so one that started after this session
 * began belongs to it or to a later one. The sid also covers clocks a little apart.
 */
export const withinSession = (recording: { roomId: string; startedAt: number }, bound: SessionBound) =>
  recording.roomId === bound.id || recording.startedAt >= bound.startedAt;

export const isRole = (value: unknown): value is Role => ROLES.includes(value as Role);

/** A comma-separated list of permissions; "none" (or empty) for none. */
export const permissionList = (fallback: string) =>
  z
    .string()
    .default(fallback)
    .transform((text, ctx) => {
      const names = text
        .split(',')
        .map((name) => name.trim().toLowerCase())
        .filter((name) => name && name !== 'none');
      const unknown = names.filter((name) => !(PERMISSIONS as readonly string[]).includes(name));
      if (unknown.length > 0) {
        ctx.addIssue({
          code: 'custom',
          message: `unknown permission ${unknown.join(', ')}; expected some of ${PERMISSIONS.join(', ')} or none`,
        });
        return z.NEVER;
      }
      return [...new Set(names)] as Permission[];
    });
