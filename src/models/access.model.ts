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

export const isRole = (value: unknown): value is Role => ROLES.includes(value as Role);
