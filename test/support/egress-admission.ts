/*
 * Egress's admission, as livekit/egress v1.14.1 decides it (805884c = 805884c3e65e1583277f93ae616d3bf0dfd35564,
 * the image docker-compose.yml pins). Shared by test/compose.test.ts (the local stack's costs) and the
 * LiveKit double (its CPU budget).
 */

/** The cost table's defaults, used for any cost unset or <= 0: livekit/egress@805884c pkg/config/service.go:32-39, :162-192. */
export const EGRESS_DEFAULT_COSTS: Record<string, number> = {
  room_composite_cpu_cost: 4,
  audio_room_composite_cpu_cost: 1,
  web_cpu_cost: 4,
  audio_web_cpu_cost: 1,
  participant_cpu_cost: 2,
  track_composite_cpu_cost: 1,
  track_cpu_cost: 0.5,
};
/** livekit/egress@805884c pkg/config/service.go:39; a value <= 0 or > 1 means this default (:163-165). */
export const EGRESS_DEFAULT_MAX_CPU_UTILIZATION = 0.8;

/**
 * The cost of a room composite request (livekit/egress@805884c pkg/stats/monitor.go:256-296, costsForRequest):
 * audio-only 1 (on the web source; the SDK source's own cost, sdk_audio_room_composite_cpu_cost, is not
 * modelled), else 4, whatever its outputs (a stream costs the same as a file).
 */
export const roomCompositeCost = (audioOnly: boolean) =>
  EGRESS_DEFAULT_COSTS[audioOnly ? 'audio_room_composite_cpu_cost' : 'room_composite_cpu_cost'];

/**
 * Whether egress claims a request of cost `required` beside egresses already running with `running` costs
 * (livekit/egress@805884c pkg/stats/monitor.go:230-235 and :557-583): with none running, all cores are available;
 * otherwise cores x max_cpu_utilization minus what each running egress holds, its cost for the first 15 s
 * (:39, :397-404) or its measured use if higher. Taken here at its cost: what egress allows it before it
 * stops the busiest egress above its cost under sustained load, "CPU exhausted" (:618-621, :769-807).
 */
export function egressAdmits(cores: number, maxCpuUtilization: number, running: number[], required: number): boolean {
  const available = running.length === 0 ? cores : cores * maxCpuUtilization - running.reduce((sum, cost) => sum + cost, 0);
  return available >= required;
}
