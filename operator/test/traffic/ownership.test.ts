import { describe, expect, it } from '@jest/globals';
import {
  classifyOwnership,
  defaultOwnerId,
  legacyTxtRecordName,
  ownerIdError,
  ownershipValue,
  parseOwnership,
  type SeenRecord,
  txtRecordName,
} from '../../src/traffic/ownership.ts';

describe("ExternalDNS's TXT registry names", () => {
  it('puts the record type before the first label (the new format)', () => {
    expect(txtRecordName('api.reservations.example.com', 'CNAME')).toBe('cname-api.reservations.example.com');
    expect(txtRecordName('API.Example.com.', 'A')).toBe('a-api.example.com');
  });

  it('applies --txt-prefix and --txt-suffix to the first label, with %{record_type} replacing the type part', () => {
    expect(txtRecordName('api.example.com', 'CNAME', { prefix: 'extdns-', suffix: '' })).toBe('extdns-cname-api.example.com');
    expect(txtRecordName('api.example.com', 'CNAME', { prefix: '%{record_type}-reg.', suffix: '' })).toBe('cname-reg.api.example.com');
    expect(txtRecordName('api.example.com', 'CNAME', { prefix: '', suffix: '-%{record_type}' })).toBe('api-cname.example.com');
    expect(txtRecordName('api.example.com', 'CNAME', { prefix: '', suffix: '-owner' })).toBe('cname-api-owner.example.com');
  });

  it('knows the legacy name (no type), which it only reads', () => {
    expect(legacyTxtRecordName('api.example.com')).toBe('api.example.com');
    expect(legacyTxtRecordName('api.example.com', { prefix: 'extdns-', suffix: '' })).toBe('extdns-api.example.com');
  });
});

describe('TXT values', () => {
  it('writes heritage first, then sorted external-dns/ labels, in quotes', () => {
    expect(ownershipValue({ resource: 'reservation/reservations/booking', owner: 'reservation-operator-eks-green' })).toBe(
      '"heritage=external-dns,external-dns/owner=reservation-operator-eks-green,external-dns/resource=reservation/reservations/booking"',
    );
  });

  it('reads what ExternalDNS writes and round-trips its own', () => {
    expect(parseOwnership('"heritage=external-dns,external-dns/owner=eks-blue-extdns,external-dns/resource=ingress/default/api"')).toEqual({
      owner: 'eks-blue-extdns',
      resource: 'ingress/default/api',
    });
    expect(parseOwnership(ownershipValue({ owner: 'x' }))).toEqual({ owner: 'x' });
  });

  it('says a TXT without external-dns heritage is not an ownership record', () => {
    expect(parseOwnership('"v=spf1 -all"')).toBeUndefined();
    expect(parseOwnership('"heritage=someone-else,external-dns/owner=x"')).toBeUndefined();
  });
});

describe('the default owner id', () => {
  it('is unique to the cluster: the set identifier and the start of the kube-system UID', () => {
    expect(defaultOwnerId('eks-blue', '5f0c2a8e-93d1-4b7a-9c1e-2f4d6a8b0c11')).toBe('reservation-operator-eks-blue-5f0c2a8e93d1');
    // A green installed with blue's values (cluster: eks-blue) gets an owner id of its own.
    expect(defaultOwnerId('eks-blue', '0a1b2c3d-0000-4000-8000-000000000000')).not.toBe(
      defaultOwnerId('eks-blue', '5f0c2a8e-93d1-4b7a-9c1e-2f4d6a8b0c11'),
    );
    expect(ownerIdError(defaultOwnerId('eks-blue', '5f0c2a8e-93d1-4b7a-9c1e-2f4d6a8b0c11'))).toBeUndefined();
  });
});

describe('who owns the record set', () => {
  const input = {
    name: 'api.example.com',
    setIdentifier: 'eks-green',
    recordType: 'CNAME',
    owner: 'reservation-operator-eks-green',
    resource: 'reservation/reservations/booking',
  };
  const cname: SeenRecord = { name: 'api.example.com', type: 'CNAME', values: ['green.elb.example.com'] };
  const txt = (owner: string, name = 'cname-api.example.com', resource: string | null = input.resource): SeenRecord => ({
    name,
    type: 'TXT',
    values: [ownershipValue(resource === null ? { owner } : { owner, resource })],
  });

  it('nobody, when nothing is there', () => {
    expect(classifyOwnership(input, [])).toEqual({ kind: 'absent' });
  });

  it('us, when the TXT names our owner id (with or without the record)', () => {
    expect(classifyOwnership(input, [cname, txt(input.owner)])).toEqual({ kind: 'ours' });
    expect(classifyOwnership(input, [txt(input.owner)])).toEqual({ kind: 'ours' });
  });

  it('someone else, named, when a TXT (new or legacy name) has another owner id', () => {
    expect(classifyOwnership(input, [cname, txt('external-dns-green')])).toEqual({
      kind: 'foreign',
      owner: 'external-dns-green',
      reason: 'api.example.com (set identifier eks-green) is owned by "external-dns-green" (its ExternalDNS ownership TXT record says so)',
    });
    expect(classifyOwnership(input, [txt('other', 'api.example.com')])).toMatchObject({ kind: 'foreign', owner: 'other' });
  });

  it('not ours, when our owner id claims it for another Reservation (the same name and cluster in another namespace)', () => {
    expect(classifyOwnership(input, [cname, txt(input.owner, undefined, 'reservation/staging/booking')])).toEqual({
      kind: 'foreign',
      owner: input.owner,
      reason:
        'api.example.com (set identifier eks-green) belongs to reservation/staging/booking under the same owner id "reservation-operator-eks-green": one record set, one Reservation',
    });
    expect(classifyOwnership(input, [txt(input.owner, undefined, null)])).toMatchObject({
      kind: 'foreign',
      reason: expect.stringContaining('without a resource label'),
    });
  });

  it('not ours, when the record exists without any ownership TXT', () => {
    expect(classifyOwnership(input, [cname])).toEqual({
      kind: 'foreign',
      reason:
        'api.example.com (set identifier eks-green) exists without an ownership TXT record (made by hand or by another tool), so it is not ours to change',
    });
  });

  it('not ours, when a TXT at the registry name is not an ownership record, or the record has another type', () => {
    expect(classifyOwnership(input, [{ name: 'cname-api.example.com', type: 'TXT', values: ['"hello"'] }])).toMatchObject({
      kind: 'foreign',
    });
    expect(classifyOwnership(input, [{ name: 'api.example.com', type: 'A', values: ['10.0.0.1'] }, txt(input.owner)])).toMatchObject({
      kind: 'foreign',
      reason: expect.stringContaining('exists as a A record'),
    });
  });
});
