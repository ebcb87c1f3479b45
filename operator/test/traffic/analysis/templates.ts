import type { AnalysisTemplate } from '../../../src/api/v1alpha1/reservation.ts';

/** An analysis template with the CRD's defaults (what the API server stores), and `overrides`. */
export const template = (overrides: Partial<AnalysisTemplate> = {}): AnalysisTemplate => ({
  name: 'slo',
  metrics: {},
  successRateMin: 0.99,
  latencyP99MaxMs: 500,
  interval: '30s',
  count: 3,
  failureLimit: 0,
  minRequests: 20,
  inconclusive: 'Pause',
  ...overrides,
});
