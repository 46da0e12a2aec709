import type { ErrorAnswer } from '../../src/services/platform/app-error';
import type { RecordingView } from '../../src/services/recordings/recording.model';
import type { Stream } from '../../src/services/streams/stream.model';

/** What the service answers, as the tests read it from supertest's untyped bodies. */
export type { ErrorAnswer };

/** POST /recordings/start, /recordings/stop and /recordings/layout. */
export interface RecordingAnswer {
  message: string;
  recording: RecordingView;
}

/** A page of GET /recordings. */
export interface RecordingPage {
  recordings: RecordingView[];
  nextCursor: string | null;
}

/** POST /streams/start, /streams/update and /streams/stop. */
export interface StreamAnswer {
  message: string;
  stream: Stream;
}
