/** Rooms: admission, access rules and passcode lockouts, participants, room metadata and the status every participant sees. */
export * from './access.model';
export * from './access.service';
export * from './admission.service';
export * from './failure-counter';
export * from './participant.model';
export * from './room-metadata.model';
export * from './room-status';
export * from './room.service';
export * from './room-store';
