import { parseRange } from '../src/services/recordings/byte-range';

describe('parseRange (RFC 9110 single byte ranges against a known size)', () => {
  const size = 1000;

  it.each([
    ['bytes=0-99', { kind: 'partial', start: 0, end: 99 }],
    ['bytes=100-', { kind: 'partial', start: 100, end: 999 }],
    ['bytes=-100', { kind: 'partial', start: 900, end: 999 }],
    ['bytes=-5000', { kind: 'partial', start: 0, end: 999 }],
    ['bytes=990-5000', { kind: 'partial', start: 990, end: 999 }],
    ['bytes=999-999', { kind: 'partial', start: 999, end: 999 }],
    ['BYTES = 5 - 6', { kind: 'partial', start: 5, end: 6 }],
  ])('%s is served as %j', (header, expected) => {
    expect(parseRange(header, size)).toEqual(expected);
  });

  it.each(['bytes=1000-', 'bytes=1000-2000', 'bytes=-0'])('%s is unsatisfiable', (header) => {
    expect(parseRange(header, size)).toEqual({ kind: 'unsatisfiable' });
  });

  it.each([undefined, 'bytes=9-3', 'bytes=0-1,5-6', 'items=0-5', 'bytes=abc', 'bytes=-', 'bytes=1.5-2'])(
    '%s falls back to the whole representation',
    (header) => {
      expect(parseRange(header, size)).toEqual({ kind: 'whole' });
    },
  );

  it('finds nothing to serve in an empty object', () => {
    expect(parseRange('bytes=-10', 0)).toEqual({ kind: 'unsatisfiable' });
    expect(parseRange('bytes=0-', 0)).toEqual({ kind: 'unsatisfiable' });
  });
});

describe('parseRange answers as the pattern it replaced, in one scan', () => {
  // The pattern it replaced (quadratic on long runs of white space), kept here as the specification.
  const previous = (header: string, size: number) => {
    const match = /^\s*bytes\s*=\s*(\d*)\s*-\s*(\d*)\s*$/i.exec(header);
    if (!match) return { kind: 'whole' };
    return parseRange(`bytes=${match[1]}-${match[2]}`, size);
  };

  it('gives the same answer for every short header built from the characters that matter', () => {
    const alphabet = ['b', 'y', 't', 'e', 's', 'B', '=', '-', '0', '7', ' ', '\t', ',', '.', 'x'];
    let seed = 7;
    const random = () => {
      seed = (seed * 1103515245 + 12345) % 2 ** 31;
      return seed / 2 ** 31;
    };
    const headers = ['bytes=0-9', ' bytes = 5 - 6 ', 'bytes=-', 'bytes==1-2', 'bytes=1-2-3', 'bytes=\u00a01-2'];
    for (let i = 0; i < 20_000; i++) {
      const length = 1 + Math.floor(random() * 14);
      const body = Array.from({ length }, () => alphabet[Math.floor(random() * alphabet.length)]).join('');
      headers.push(random() < 0.7 ? `bytes=${body}` : body);
    }
    for (const header of headers) expect([header, parseRange(header, 1000)]).toEqual([header, previous(header, 1000)]);
  });

  it('ignores a header longer than 1,024 bytes, whatever it says', () => {
    expect(parseRange(`bytes=0-99${' '.repeat(1015)}`, 1000)).toEqual({ kind: 'whole' });
    expect(parseRange(`bytes=0-99${' '.repeat(1014)}`, 1000)).toEqual({ kind: 'partial', start: 0, end: 99 });
  });
});
