// The operator's test support, for other packages' tests, the benchmark and the simulation
// (`@reservations/operator/testing`): Reservation fixtures, the test cluster's helpers, the
// operator as a process, ExternalDNS as a cluster runs it.

export * from './analysis-simulation.ts';
export * from './dashboard-page.ts';
export * from './external-dns.ts';
export * from './fixtures.ts';
export * from './kube.ts';
export * from './operator-process.ts';
