/** A time as Kubernetes writes it in status and conditions: RFC 3339, whole seconds, UTC. */
export const iso = (d: Date) => d.toISOString().replace(/\.\d{3}Z$/, 'Z');
