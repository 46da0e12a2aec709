import { isPublicAddress } from '../src/services/streams/public-address';
import { destinationHost } from '../src/services/streams/stream.model';
import { systemResolver } from '../src/services/streams/host-resolver';

describe('isPublicAddress', () => {
  it('takes public unicast IPv4 and IPv6, and refuses the special-purpose registries, multicast and broadcast', () => {
    const publicOnes = [
      '8.8.8.8',
      '93.184.215.14',
      '1.1.1.1',
      '198.17.255.255',
      '198.20.0.0',
      '223.255.255.255',
      '2a00:1450:4001:82b::200c',
      '2606:4700::1111',
      '2001:4860:4860::8888',
      '2001:200::1',
      '3fff:1000::1',
    ];
    const refused = [
      '0.1.2.3',
      '10.0.0.1',
      '100.127.255.255',
      '127.0.0.1',
      '169.254.169.254',
      '172.31.255.255',
      '192.0.0.10',
      '192.0.2.1',
      '192.31.196.1',
      '192.52.193.1',
      '192.88.99.2',
      '192.168.0.1',
      '192.175.48.6',
      '198.18.0.0',
      '198.19.255.255',
      '198.51.100.1',
      '203.0.113.1',
      '224.0.0.251',
      '239.255.255.250',
      '240.0.0.1',
      '255.255.255.255',
      '::',
      '::1',
      'fe80::1',
      'fe80::1%eth0',
      'fec0::1',
      'fc00::1',
      'fd00::1',
      'ff02::1',
      '100::1',
      '5f00::1',
      '2001:1::1',
      '2001:2::1',
      '2001:3::1',
      '2001:4:112::1',
      '2001:10::1',
      '2001:20::1',
      '2001:30::1',
      '2001:db8::1',
      '2620:4f:8000::1',
      '3fff::1',
      '3fff:fff::1',
      'not-an-address',
      '',
      '127.0.0.1.nip.io',
    ];
    expect(publicOnes.filter((address) => !isPublicAddress(address))).toEqual([]);
    expect(refused.filter(isPublicAddress)).toEqual([]);
  });

  it('checks an IPv4 address embedded in IPv6 as IPv4', () => {
    // 93.184.215.14 is 5db8:d70e; 10.0.0.7 is 0a00:0007. Teredo's client is inverted: 93.184.215.14 → a247:28f1.
    const embeddingPublic = [
      '::ffff:93.184.215.14',
      '::ffff:5db8:d70e',
      '::93.184.215.14',
      '64:ff9b::5db8:d70e',
      '2002:5db8:d70e::1',
      '2001:0:4136:e378:8000:63bf:a247:28f1',
      '64:ff9b:1:5d5d:b8:d70e:5db8:d70e',
    ];
    const embeddingPrivate = [
      '::ffff:10.0.0.7',
      '::ffff:a00:7',
      '::10.0.0.7',
      '::a00:7',
      '64:ff9b::a00:7',
      '64:ff9b::10.0.0.7',
      '2002:a00:7::1',
      '2002:c000:201::1', // 6to4 of documentation space
      '2001:0:4136:e378:8000:63bf:f5ff:fff8', // Teredo, client 10.0.0.7
      '2001:0:a00:7:8000:63bf:a247:28f1', // Teredo, server 10.0.0.7
      '64:ff9b:1::a00:7', // local-use NAT64 read as /96
      '64:ff9b:1:a5d:b8:d70e:5db8:d70e', // the same prefix read as /48: 10.93.184.215 around the u octet (public as /56, /64, /96)
      '::ffff:0:a00:7', // SIIT's IPv4-translated form lies outside 2000::/3
    ];
    expect(embeddingPublic.filter((address) => !isPublicAddress(address))).toEqual([]);
    expect(embeddingPrivate.filter(isPublicAddress)).toEqual([]);
  });
});

describe('destinationHost', () => {
  it('reads every spelling of an IP address as the resolver would, and the host after any user info', () => {
    const hosts = [
      'rtmp://127.1/a/k',
      'rtmp://0x7f000001/a/k',
      'rtmp://2130706433:1935/a/k',
      'srt://0177.0.0.1:9000?streamid=x',
      'rtmp://user:pass@127.0.0.1/a/k',
      'rtmp://8.8.8.8@127.0.0.1/a/k',
      'rtmp://127.0.0.1./a/k',
    ].map(destinationHost);
    expect(hosts).toEqual(Array(7).fill('127.0.0.1'));
    expect(destinationHost('rtmp://[::FFFF:127.0.0.1]:1935/a/k')).toBe('::ffff:7f00:1');
    expect(destinationHost('srt://Ingest.Example.COM:9000?streamid=x')).toBe('ingest.example.com');
    expect([destinationHost('rtmp:///a/k'), destinationHost('rtmp://[fe80::1%25eth0]/a/k'), destinationHost('rtmp://a b/a/k')]).toEqual([
      undefined,
      undefined,
      undefined,
    ]);
  });
});

describe('systemResolver', () => {
  const lookupAnswering = (answer: () => Promise<Array<{ address: string }>>) => systemResolver(100, answer);

  it('gives every address, none for a name that does not exist, and fails when there is no answer in time', async () => {
    await expect(
      lookupAnswering(() => Promise.resolve([{ address: '93.184.215.14' }, { address: '2606:2800::1' }]))('x.example'),
    ).resolves.toEqual(['93.184.215.14', '2606:2800::1']);
    await expect(
      lookupAnswering(() => Promise.reject(Object.assign(new Error('getaddrinfo ENOTFOUND'), { code: 'ENOTFOUND' })))('x.example'),
    ).resolves.toEqual([]);
    await expect(
      lookupAnswering(() => Promise.reject(Object.assign(new Error('getaddrinfo EAI_AGAIN'), { code: 'EAI_AGAIN' })))('x.example'),
    ).rejects.toThrow('EAI_AGAIN');
    await expect(lookupAnswering(() => new Promise(() => undefined))('slow.example')).rejects.toThrow(
      'no answer for slow.example in 100 ms',
    );
  });
});
