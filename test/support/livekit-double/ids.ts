import { randomInt } from 'node:crypto';

/** LiveKit's short-uuid alphabet (base57: no 0, 1, I, O, l). */
const BASE57 = '23456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz';

/** `RM_`, `EG_`, `EV_`, `PA_` + 12 base57 characters, like `guid.New(prefix)`. */
export function newId(prefix: 'RM_' | 'EG_' | 'EV_' | 'PA_' | 'TR_'): string {
  let id = prefix;
  for (let i = 0; i < 12; i++) id += BASE57[randomInt(BASE57.length)];
  return id;
}

// Wall clock at load plus a monotonic offset: nanosecond timestamps that never go backwards,
// so a duration computed as endedAt - startedAt is never negative and rarely zero.
const wallAtLoadNs = BigInt(Date.now()) * 1_000_000n;
const hrAtLoad = process.hrtime.bigint();

/** Unix nanoseconds (EgressInfo and FileInfo times). */
export const nowNs = (): bigint => wallAtLoadNs + (process.hrtime.bigint() - hrAtLoad);
/** Unix milliseconds as bigint (Room.creationTimeMs, ParticipantInfo.joinedAtMs). */
export const nowMsBig = (): bigint => nowNs() / 1_000_000n;
/** Unix seconds as bigint (Room.creationTime, WebhookEvent.createdAt). */
export const nowSeconds = (): bigint => nowNs() / 1_000_000_000n;

const pad = (n: number, width = 2) => String(n).padStart(width, '0');

/**
 * Go layout `2006-01-02T150405` for `{time}`. Egress formats the host clock without converting to
 * UTC, so this uses the local time zone too.
 */
export function goTime(date: Date): string {
  return `${date.getFullYear()}-${pad(date.getMonth() + 1)}-${pad(date.getDate())}T${pad(date.getHours())}${pad(date.getMinutes())}${pad(date.getSeconds())}`;
}

/** `{utc}`: Go layout `20060102150405` followed by three digits of milliseconds (local clock, as egress does). */
export function goUtc(date: Date): string {
  return `${date.getFullYear()}${pad(date.getMonth() + 1)}${pad(date.getDate())}${pad(date.getHours())}${pad(date.getMinutes())}${pad(date.getSeconds())}${pad(date.getMilliseconds(), 3)}`;
}
