import type { Logger } from '../platform/logger';
import type { Metrics } from '../platform/metrics';
import { isFinal } from '../recordings/recording.model';
import type { NotificationService, NotificationSubject, NotificationType } from '../notifications/notification.service';
import type { RoomStore } from '../rooms/room-store';
import { publishRoomStatus, type RoomActivity, type RoomActivitySubject } from '../rooms/room-status';
import type { RoomService } from '../rooms/room.service';

export interface CommitDeps {
  notifications: NotificationService;
  metrics: Metrics;
  rooms: RoomService;
  roomRecords: RoomStore;
  log: Logger;
}

/**
 * The steps every change of a recording or a stream takes, in this order: its notifications queued
 * (a retry of the event finds the change again and queues the same ids, where a crash after saving
 * would lose them), the new state saved when it differs, the notifications sent, a final status
 * counted, and the room's status published. Returns why the room status could not be published, if
 * it could not: the state is safe then, and LiveKit's retry of the event publishes it.
 */
export async function commitChange<T extends RoomActivitySubject>(
  deps: CommitDeps,
  kind: RoomActivity,
  current: T | undefined,
  next: T,
  change: { notices: Array<{ id: string; type: NotificationType }>; about: NotificationSubject; save: () => Promise<void> },
): Promise<Error | undefined> {
  const queued: string[] = [];
  for (const { id, type } of change.notices) queued.push(...(await deps.notifications.enqueue(id, type, change.about)));
  if (next !== current) await change.save();
  deps.notifications.send(queued);
  if (isFinal(next.status) && (!current || !isFinal(current.status))) deps.metrics.finished.inc({ kind, status: next.status });
  try {
    await publishRoomStatus(deps.rooms, deps.roomRecords, kind, next);
    return undefined;
  } catch (error) {
    deps.log.warn({ err: error, roomName: next.roomName, egressId: next.id }, `room ${kind} status not published`);
    return error instanceof Error ? error : new Error(String(error));
  }
}
