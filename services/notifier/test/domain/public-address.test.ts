import { describe, expect, it } from '@jest/globals';
import { isPublicAddress, privateHostReason, publicOnlyLookup } from '../../src/domain/public-address.ts';

describe('isPublicAddress', () => {
  it.each([
    ['8.8.8.8', true],
    ['1.1.1.1', true],
    ['172.32.0.1', true],
    ['2606:4700:4700::1111', true],
    ['::ffff:8.8.8.8', true],
    ['127.0.0.1', false],
    ['127.8.9.10', false],
    ['10.0.0.1', false],
    ['172.16.0.1', false],
    ['172.31.255.255', false],
    ['192.168.1.1', false],
    ['169.254.169.254', false],
    ['100.64.0.1', false],
    ['0.0.0.0', false],
    ['224.0.0.1', false],
    ['255.255.255.255', false],
    ['::1', false],
    ['::', false],
    ['fd00::1', false],
    ['fe80::1', false],
    ['ff02::1', false],
    ['::ffff:127.0.0.1', false],
    ['::ffff:7f00:1', false],
    ['[::1]', false],
    ['not-an-ip', false],
  ])('%s → %p', (address, expected) => {
    expect(isPublicAddress(address)).toBe(expected);
  });
});

describe('privateHostReason', () => {
  it.each([
    ['https://localhost/x', 'localhost is this host'],
    ['https://API.LOCALHOST/x', 'api.localhost is this host'],
    ['https://10.0.0.1/x', '10.0.0.1 is not a public address'],
    ['https://[fe80::1]/x', '[fe80::1] is not a public address'],
  ])('%s: %s', (url, reason) => {
    expect(privateHostReason(new URL(url))).toBe(reason);
  });

  it('says nothing of public literals and of names (those are checked when the delivery connects)', () => {
    expect(privateHostReason(new URL('https://8.8.8.8/x'))).toBeUndefined();
    expect(privateHostReason(new URL('https://hooks.example.com/x'))).toBeUndefined();
  });
});

describe('publicOnlyLookup', () => {
  it('refuses a name that resolves to loopback', async () => {
    const err = await new Promise<NodeJS.ErrnoException | null>((resolve) => publicOnlyLookup('localhost', {}, (e) => resolve(e)));
    expect(err).toMatchObject({
      code: 'EPRIVATEADDRESS',
      message: expect.stringMatching(/^localhost resolves to .*not a public address$/),
    });
  });
});
