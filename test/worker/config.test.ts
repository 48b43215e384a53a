import { createExecutionContext } from 'cloudflare:test';
import { env } from 'cloudflare:workers';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { ConfigError, parseWorkerConfig, workerConfig } from '@polyprune/worker/config';
import { app } from '@polyprune/worker/index';

const expectBad = (vars: Record<string, unknown>, fragment: string) => {
  expect(() => parseWorkerConfig(vars)).toThrow(ConfigError);
  expect(() => parseWorkerConfig(vars)).toThrow(fragment);
};

describe('parseWorkerConfig', () => {
  it('reads the settings as wrangler.toml writes them', () => {
    expect(
      parseWorkerConfig({
        RATE_LIMIT_PER_MINUTE: '600',
        TRUST_CF_CONNECTING_IP: 'true',
        LEASE_SECONDS: '90',
        MAX_ATTEMPTS: '5',
        ADMIN_TOKEN: 'x'.repeat(20),
        CODE_VERSION: 'v9',
      }),
    ).toEqual({
      rateLimitPerMinute: 600,
      trustCfConnectingIp: true,
      leaseSeconds: 90,
      maxAttempts: 5,
      adminToken: 'x'.repeat(20),
      codeVersion: 'v9',
    });
  });

  it('unset or empty variables take their defaults', () => {
    const defaults = { rateLimitPerMinute: 600, trustCfConnectingIp: false, leaseSeconds: 120, maxAttempts: 3, adminToken: undefined, codeVersion: undefined };
    expect(parseWorkerConfig({})).toEqual(defaults);
    expect(parseWorkerConfig({ RATE_LIMIT_PER_MINUTE: '', TRUST_CF_CONNECTING_IP: '', LEASE_SECONDS: '', MAX_ATTEMPTS: '' })).toEqual(defaults);
    expect(parseWorkerConfig({ TRUST_CF_CONNECTING_IP: 'false' }).trustCfConnectingIp).toBe(false);
  });

  it('a bad value is an error naming the variable and the value, never NaN', () => {
    expectBad({ LEASE_SECONDS: 'abc' }, 'LEASE_SECONDS must be a whole number ≥ 1, got "abc"');
    expectBad({ LEASE_SECONDS: '0' }, 'LEASE_SECONDS');
    expectBad({ LEASE_SECONDS: '1.5' }, 'got "1.5"');
    expectBad({ MAX_ATTEMPTS: '-1' }, 'MAX_ATTEMPTS must be a whole number ≥ 1, got "-1"');
    expectBad({ RATE_LIMIT_PER_MINUTE: '10/min' }, 'RATE_LIMIT_PER_MINUTE must be a whole number ≥ 1, got "10/min"');
    expectBad({ TRUST_CF_CONNECTING_IP: 'yes' }, 'TRUST_CF_CONNECTING_IP must be "true" or "false", got "yes"');
    // Every bad variable is named at once.
    expectBad({ LEASE_SECONDS: 'x', MAX_ATTEMPTS: 'y' }, 'LEASE_SECONDS must be a whole number ≥ 1, got "x"; MAX_ATTEMPTS must be a whole number ≥ 1, got "y"');
  });

  it('is parsed once per env object', () => {
    const e = { ...env, LEASE_SECONDS: '7' };
    expect(workerConfig(e)).toBe(workerConfig(e));
    expect(workerConfig(e).leaseSeconds).toBe(7);
    expect(workerConfig({ ...e, LEASE_SECONDS: '8' }).leaseSeconds).toBe(8);
  });
});

describe('a bad setting at request time', () => {
  afterEach(() => vi.restoreAllMocks());

  it('fails the request with a 500 and one log line naming the variable and value', async () => {
    const log = vi.spyOn(console, 'error').mockImplementation(() => {});
    const res = await app.request('/v1/health', {}, { ...env, LEASE_SECONDS: 'two minutes' }, createExecutionContext());
    expect(res.status).toBe(500);
    expect(((await res.json()) as { error: { code: string } }).error.code).toBe('internal');
    expect(log.mock.calls.map((c) => c.join(' '))).toEqual([
      'configuration error: bad Worker setting: LEASE_SECONDS must be a whole number ≥ 1, got "two minutes"',
    ]);
  });
});
