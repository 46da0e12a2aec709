import { type ParticipantInfo, TrackType } from 'livekit-server-sdk';

/** `ParticipantInfo.Kind` values (livekit_models.proto; the server SDK does not re-export the enum). */
const EGRESS_KIND = 2;
const AGENT_KIND = 4;

/** A person, as opposed to a recorder (kind EGRESS) or an agent, which LiveKit also lists. */
export function isPerson(participant: ParticipantInfo): boolean {
  const kind: number = participant.kind;
  const dependent = kind === EGRESS_KIND || kind === AGENT_KIND;
  return !dependent && !participant.permission?.recorder && !participant.permission?.agent;
}

/**
 * Whether a person in the room publishes what a room composite needs to start: any track, audio for
 * an audio-only one (egress waits for its page's or SDK source's start signal until then).
 */
export const someonePublishes = (participants: ParticipantInfo[], audioOnly: boolean) =>
  participants.some((p) => isPerson(p) && p.tracks.some((track) => !audioOnly || track.type === TrackType.AUDIO));
