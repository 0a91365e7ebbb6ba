import {
  guardedLookup,
  hostOf,
  isForbiddenAddress,
  resolveHost,
  urlProblem,
} from './address-policy';

function lookup(host: string, all: boolean): Promise<unknown> {
  return new Promise((resolve, reject) => {
    guardedLookup(host, { all }, (error, address) => (error ? reject(error) : resolve(address)));
  });
}

describe('webhook address policy', () => {
  it.each([
    '127.0.0.1',
    '127.1.2.3',
    '10.0.0.1',
    '172.16.0.1',
    '172.31.255.255',
    '192.168.1.1',
    '169.254.169.254',
    '100.64.0.1',
    '0.0.0.0',
    '224.0.0.1',
    '255.255.255.255',
    '::',
    '::1',
    'fc00::1',
    'fd12:3456::1',
    'fe80::1',
    'ff02::1',
    '::ffff:127.0.0.1',
    '::ffff:7f00:1',
    '64:ff9b::a00:1',
    'not-an-address',
  ])('refuses %s', (address) => {
    expect(isForbiddenAddress(address)).toBe(true);
  });

  it.each(['93.184.216.34', '8.8.8.8', '172.32.0.1', '192.169.0.1', '2606:4700::1111'])(
    'allows %s',
    (address) => {
      expect(isForbiddenAddress(address)).toBe(false);
    },
  );

  it.each([
    ['ftp://example.com/', 'http or https'],
    ['example.com/hook', 'absolute'],
    ['http://user:pw@example.com/', 'credentials'],
    ['file:///etc/passwd', 'http or https'],
  ])('refuses the URL %s', (url, problem) => {
    expect(urlProblem(url)).toContain(problem);
  });

  it('accepts http and https URLs, and strips an IPv6 literal of its brackets', () => {
    expect(urlProblem('https://example.com/hooks?x=1')).toBeUndefined();
    expect(urlProblem('http://[2606:4700::1111]:8080/')).toBeUndefined();
    expect(hostOf(new URL('http://[::1]:80/'))).toBe('::1');
    expect(hostOf(new URL('http://example.com/'))).toBe('example.com');
  });

  it('resolves a literal to itself and a name through DNS', async () => {
    await expect(resolveHost('10.1.2.3')).resolves.toEqual(['10.1.2.3']);
    await expect(resolveHost('localhost')).resolves.toEqual(
      expect.arrayContaining([expect.stringMatching(/^(127\.0\.0\.1|::1)$/)]),
    );
    await expect(resolveHost('no-such-host.invalid')).rejects.toThrow();
  });

  it('refuses, when connecting, a name that resolves to a private address', async () => {
    await expect(lookup('localhost', false)).rejects.toThrow(/loopback, private or link-local/);
    await expect(lookup('localhost', true)).rejects.toThrow(/loopback, private or link-local/);
    await expect(lookup('no-such-host.invalid', false)).rejects.toThrow();
  });
});
