import { EgressInfo, EgressStatus, StreamInfo, StreamInfo_Status } from '@livekit/protocol';
import { maskStreamUrl, maskStreamUrlsIn, mergeStream, type Stream, streamFromEgress } from '../src/services/streams/stream.model';

describe('stream keys are masked', () => {
  it('masks the RTMP key, SRT query values and bare tokens, user info, and leaves masked URLs as they are', () => {
    expect(maskStreamUrl('rtmp://a.rtmp.youtube.com/live2/abcd-efgh-ijkl-mnop')).toBe('rtmp://a.rtmp.youtube.com/live2/{abc...nop}');
    expect(maskStreamUrl('rtmps://h:443/app/key123')).toBe('rtmps://h:443/app/{ke...23}');
    expect(maskStreamUrl('srt://h:9000?streamid=publish:cam/secret&pkt_size=1316&latency=')).toBe(
      'srt://h:9000?streamid={pub...ret}&pkt_size={1...6}&latency=',
    );
    expect(maskStreamUrl('srt://h:9000?passphrase-only-token')).toBe('srt://h:9000?{pas...ken}');
    expect(maskStreamUrl('rtmp://user:pass@h/app/key-123456')).toBe('rtmp://{...}@h/app/{key...456}');
    // A key that merely looks wrapped is still masked; LiveKit's own masks are kept.
    expect(maskStreamUrl('rtmp://h/app/{my-secret-key}')).toBe('rtmp://h/app/{{my...ey}}');
    expect(maskStreamUrl('rtmp://h/app/{abc...nop}')).toBe('rtmp://h/app/{abc...nop}');
    expect(maskStreamUrl(maskStreamUrl('srt://h:1?streamid=abcdefghij'))).toBe('srt://h:1?streamid={abc...hij}');
    expect(maskStreamUrlsIn('invalid url rtmp://h/app/sk_live_987654: invalid scheme')).toBe(
      'invalid url rtmp://h/app/{sk_...654}: invalid scheme',
    );
  });

  it('masks the URLs egress quotes in its error texts', () => {
    const info = new EgressInfo({
      egressId: 'EG_1',
      roomName: 'r',
      status: EgressStatus.EGRESS_FAILED,
      error: 'srt://h:1?streamid=abcdefghij unreachable',
      streamResults: [
        new StreamInfo({
          url: 'srt://h:1?streamid=abcdefghij',
          status: StreamInfo_Status.FAILED,
          error: 'could not reach srt://h:1?streamid=abcdefghij',
        }),
      ],
    });
    expect(JSON.stringify(streamFromEgress(info))).not.toContain('abcdefghij');
  });
});

describe('a stream never moves backwards', () => {
  const base: Stream = { id: 'EG_1', roomName: 'r', roomId: 'RM_1', status: 'ACTIVE', startedAt: 1, destinations: [], updatedAt: 1 };
  const a = { url: 'rtmp://a/app/{abc...xyz}', status: 'ACTIVE' as const, startedAt: 5 };
  const b = { url: 'rtmp://b/app/{def...uvw}', status: 'ACTIVE' as const };

  it('keeps a destination that ended, and one a late event does not know yet', () => {
    const current = { ...base, destinations: [{ ...a, status: 'FAILED' as const, error: 'gone', endedAt: 9 }, b] };
    const late = { ...base, destinations: [a] };
    const merged = mergeStream(current, late);
    expect(merged).toBe(current);
    const next = mergeStream(current, { ...base, destinations: [a, { ...b, startedAt: 7 }] });
    expect(next.destinations).toEqual([current.destinations[0], { ...b, startedAt: 7 }]);
  });

  it('tells two destinations with the same masked URL apart by their order', () => {
    const current = { ...base, destinations: [a, { ...a, status: 'FINISHED' as const }] };
    const next = mergeStream(current, { ...base, destinations: [{ ...a, startedAt: 6 }, a] });
    expect(next.destinations.map((d) => d.status)).toEqual(['ACTIVE', 'FINISHED']);
    expect(next.destinations[0].startedAt).toBe(6);
  });
});
