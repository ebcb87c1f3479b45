import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from '@jest/globals';
import { removeRunDir, runDir } from '@reservations/testkit';
import { ConfigError, edgeHost, loadConfig, parseConfig, recordFqdn } from '../src/config.ts';
import { EXAMPLE_CONFIG } from './support/platform.ts';

const example = () => JSON.parse(readFileSync(EXAMPLE_CONFIG, 'utf8')) as Record<string, unknown>;

/** The problems parseConfig reports for `raw`, or [] when it accepts it. */
function problems(raw: unknown): readonly string[] {
  try {
    parseConfig(raw);
    return [];
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    return err.problems;
  }
}

describe('the infrastructure configuration', () => {
  it('accepts the example and derives the record and edge names from it', () => {
    const config = loadConfig(EXAMPLE_CONFIG);
    expect(config.blue).toEqual({ name: 'eks-blue', weight: 100 });
    expect(config.green).toEqual({ name: 'eks-green', weight: 0 });
    expect(recordFqdn(config)).toBe('api.reservations.example.com');
    expect(edgeHost(config, config.green)).toBe('api.eks-green.reservations.example.com');
  });

  it('names every wrong field, with what it should be', () => {
    const raw = example();
    raw.account = '1234';
    raw.region = 'Europe';
    delete raw.domain;
    raw.vpc = { cidr: '10.0.0.0/8', availabilityZones: ['eu-west-1a'], natGateways: 1 };
    raw.database = { ...(raw.database as object), readers: 0 };
    raw.queue = { ...(raw.queue as object), name: 'events.fifo' };
    raw.kubernetesVersion = '1.20';
    expect(problems(raw)).toEqual([
      'account: "1234" is not a 12-digit AWS account id',
      'region: "Europe" is not an AWS region such as eu-west-1',
      'domain: required (a lower-case DNS name)',
      'vpc.cidr: "10.0.0.0/8" is not an IPv4 CIDR from /16 to /24',
      'vpc.availabilityZones: ["eu-west-1a"] is not a list of at least 2 availability zones such as eu-west-1a',
      'kubernetesVersion: "1.20" is not one of 1.34',
      'database.readers: 0 is not an integer from 1 to 15',
      'queue.name: "events.fifo" is not a queue name without .fifo',
    ]);
  });

  it("names the identity provider's fields: an issuer and an audience are required, a JWKS URL must be https", () => {
    const raw = example();
    raw.auth = { audience: '', jwksUrl: 'http://idp.example.com/jwks' };
    expect(problems(raw)).toEqual([
      'auth.jwksUrl: "http://idp.example.com/jwks" is not an https URL',
      "auth.issuer: required (the identity provider's iss, e.g. https://idp.example.com/)",
      'auth.audience: "" is not the aud tokens for these APIs carry',
    ]);
  });

  it('refuses unknown fields, so a typo is not silently ignored', () => {
    const raw = example();
    raw.regoin = 'eu-west-1';
    raw.nodes = { ...(raw.nodes as object), instancetype: 'm7i.large' };
    expect(problems(raw)).toEqual(['regoin: unknown field', 'nodes.instancetype: unknown field']);
  });

  it('checks the fields against each other', () => {
    const raw = example();
    raw.nodes = { instanceType: 'm7i.large', min: 3, desired: 2, max: 6 };
    raw.vpc = { cidr: '10.40.0.0/16', availabilityZones: ['eu-west-1a', 'us-east-1b'], natGateways: 3 };
    raw.green = { name: 'eks-blue', weight: 0 };
    raw.blue = { name: 'eks-blue', weight: 0 };
    expect(problems(raw)).toEqual([
      'nodes: min (3) <= desired (2) <= max (6) does not hold',
      'vpc.natGateways: 3 is more than the 2 availability zones',
      'vpc.availabilityZones: us-east-1b not in eu-west-1',
      'green.name: the same as blue.name (eks-blue)',
      'blue.weight, green.weight: one cluster must start with traffic',
    ]);
  });

  it('says which file is not JSON, and that a non-object is not a configuration', () => {
    const dir = runDir('reservations-infra-');
    const path = join(dir, 'broken.json');
    writeFileSync(path, '{ "account": ');
    expect(() => loadConfig(path)).toThrow(`${path}: 1 problem(s):\n  - (root): not readable JSON`);
    removeRunDir(dir);
    expect(problems([1, 2])).toEqual(['(root): not a JSON object']);
  });
});
