import { type TwirpCode, isTwirpCode } from './twirp';

/**
 * What a faulty call does instead of (or on top of) its normal answer:
 * - `{code, msg}`: a Twirp error with the code's HTTP status, without acting;
 * - `'network'`: the socket is destroyed without an answer, without acting;
 * - `{delayMs}`: the call acts at once but its answer comes only after the delay (a slow LiveKit);
 * - `{until}`: the call acts at once but its answer waits until the promise settles (the test decides when).
 */
export type Fault = { code: string; msg?: string } | 'network' | { delayMs: number } | { until: Promise<unknown> };

export type ResolvedFault =
  | { kind: 'error'; code: TwirpCode; msg: string }
  | { kind: 'network' }
  | { kind: 'delay'; delayMs: number }
  | { kind: 'held'; until: Promise<unknown> };

interface Armed {
  method: string;
  fault: ResolvedFault;
  remaining: number;
}

/** `failNext` bookkeeping: faults armed per method name, used up in order. */
export class FaultRegistry {
  private armed: Armed[] = [];

  /** `method` is a bare name (`ListRooms`) or `Service/Method` (`RoomService/ListRooms`). */
  add(method: string, fault: Fault, times = 1): void {
    this.armed.push({ method, fault: resolve(fault), remaining: times });
  }

  /** The next fault for this call, if any (consumes one use). */
  take(service: string, method: string): ResolvedFault | undefined {
    const armed = this.armed.find((a) => a.remaining > 0 && (a.method === method || a.method === `${service}/${method}`));
    if (!armed) return undefined;
    armed.remaining -= 1;
    this.armed = this.armed.filter((a) => a.remaining > 0);
    return armed.fault;
  }

  clear(): void {
    this.armed = [];
  }
}

function resolve(fault: Fault): ResolvedFault {
  if (fault === 'network') return { kind: 'network' };
  if ('delayMs' in fault) return { kind: 'delay', delayMs: fault.delayMs };
  if ('until' in fault) return { kind: 'held', until: fault.until };
  if (!isTwirpCode(fault.code)) throw new Error(`failNext: "${fault.code}" is not a Twirp error code`);
  return { kind: 'error', code: fault.code, msg: fault.msg ?? `injected ${fault.code}` };
}
