import { DNS_LABEL_MAX, MAX_NAME_LENGTH, SERVICES } from '../desired/metadata.ts';
import { GROUP, KIND, PLURAL, ReservationSpec, ReservationStatus, VERSION } from './v1alpha1/reservation.ts';

type Json = null | boolean | number | string | Json[] | { [key: string]: Json };
type JsonObject = { [key: string]: Json };

/**
 * Turns a TypeBox schema into the structural OpenAPI v3 schema a CRD accepts: every node
 * typed, defaulted properties leave `required` (the API server
 * fills them in first), object defaults include their properties' defaults, and what CRDs forbid (`additionalProperties: false`, `$id`,
 * annotations like `writeOnly`) goes. Unknown fields are pruned by the API server anyway.
 */
export function toStructuralSchema(schema: unknown): JsonObject {
  const plain = JSON.parse(JSON.stringify(schema)) as JsonObject; // drops TypeBox's symbol keys
  return convert(plain);
}

function convert(node: JsonObject): JsonObject {
  const out: JsonObject = {};
  // A structural schema gives every node a type; TypeBox's Enum leaves it implied.
  if (Array.isArray(node.enum) && node.type === undefined) out.type = typeof node.enum[0] === 'number' ? 'integer' : 'string';
  for (const [key, value] of Object.entries(node)) {
    if (['$id', '$schema', 'writeOnly', 'readOnly'].includes(key)) continue;
    if (key === 'additionalProperties') {
      // A map's value schema stays (`false`, TypeBox's "no unknown fields", goes: pruning does that).
      if (isObject(value)) out.additionalProperties = convert(value);
      continue;
    }
    if (key === 'properties' && isObject(value)) {
      out.properties = Object.fromEntries(Object.entries(value).map(([k, v]) => [k, convert(v as JsonObject)]));
    } else if (key === 'items' && isObject(value)) {
      out.items = convert(value);
    } else {
      out[key] = value;
    }
  }
  // A map is additionalProperties alone: a structural schema may not have both.
  if (isObject(out.additionalProperties) && isObject(out.properties) && Object.keys(out.properties).length === 0) delete out.properties;
  // The API server validates a default as it stands, without the defaults nested inside it
  // (a rule on `replicas` would see `{}`), so an object's default spells them all out.
  if (isObject(out.default) && isObject(out.properties)) {
    const filled: JsonObject = { ...out.default };
    for (const [name, property] of Object.entries(out.properties)) {
      if (!(name in filled) && isObject(property) && 'default' in property) filled[name] = property.default as Json;
    }
    out.default = filled;
  }
  if (Array.isArray(out.required) && isObject(out.properties)) {
    const properties = out.properties;
    const required = out.required.filter((name) => !('default' in (properties[String(name)] as JsonObject)));
    if (required.length > 0) out.required = required;
    else delete out.required;
  }
  return out;
}

function isObject(value: unknown): value is JsonObject {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** The component whose Service name is the longest name derived from the Reservation's. */
const longestComponent = Object.values(SERVICES)
  .map((s) => s.component)
  .reduce((a, b) => (b.length > a.length ? b : a));

/** The Reservation CustomResourceDefinition, as `crds/` holds it. */
export function reservationCrd() {
  return {
    apiVersion: 'apiextensions.k8s.io/v1',
    kind: 'CustomResourceDefinition',
    metadata: { name: `${PLURAL}.${GROUP}` },
    spec: {
      group: GROUP,
      scope: 'Namespaced',
      names: { kind: KIND, listKind: `${KIND}List`, plural: PLURAL, singular: 'reservation', shortNames: ['rsv'], categories: ['all'] },
      versions: [
        {
          name: VERSION,
          served: true,
          storage: true,
          subresources: { status: {} },
          additionalPrinterColumns: [
            {
              name: 'Ready',
              type: 'string',
              jsonPath: '.status.conditions[?(@.type=="Ready")].status',
              description: 'all services available',
            },
            { name: 'Replicas', type: 'string', jsonPath: '.status.replicas', description: 'available/desired pods' },
            {
              name: 'Weight',
              type: 'integer',
              jsonPath: '.status.traffic.verifiedWeight',
              description: "this cluster's Route53 weight, as verified INSYNC",
            },
            { name: 'Phase', type: 'string', jsonPath: '.status.phase', description: 'traffic phase' },
            { name: 'Reason', type: 'string', jsonPath: '.status.conditions[?(@.type=="Ready")].reason', priority: 1 },
            {
              name: 'Share',
              type: 'number',
              jsonPath: '.status.traffic.cutover.verifiedShare',
              description: "this cluster's share of Route53's answers during a cutover, percent",
              priority: 1,
            },
            {
              name: 'Step',
              type: 'integer',
              jsonPath: '.status.traffic.cutover.step',
              description: 'the cutover step (0-based)',
              priority: 1,
            },
            { name: 'Age', type: 'date', jsonPath: '.metadata.creationTimestamp' },
          ],
          schema: {
            openAPIV3Schema: {
              type: 'object',
              description: 'Reservation is one installation of the reservation platform in this cluster, and its traffic.',
              required: ['spec'],
              // The objects a Reservation becomes are named after it (see MAX_NAME_LENGTH), and the
              // API server refuses each one whose name does not fit; refuse the Reservation instead.
              'x-kubernetes-validations': [
                {
                  rule: `self.metadata.name.size() <= ${MAX_NAME_LENGTH}`,
                  message: `metadata.name must be at most ${MAX_NAME_LENGTH} characters: the longest name made from it, the Service <name>-${longestComponent}, must fit in ${DNS_LABEL_MAX} (a DNS label)`,
                },
                {
                  rule: "self.metadata.name.matches('^[a-z]([-a-z0-9]*[a-z0-9])?$')",
                  message:
                    'metadata.name must start with a letter and hold only lowercase letters, digits and dashes (no dots): its Services are named after it, and a Service name is a DNS label (RFC 1035)',
                },
              ],
              properties: {
                apiVersion: { type: 'string', description: 'APIVersion of this object' },
                kind: { type: 'string', description: 'Kind of this object' },
                metadata: { type: 'object' },
                spec: toStructuralSchema(ReservationSpec),
                status: toStructuralSchema(ReservationStatus),
              },
            },
          },
        },
      ],
    },
  };
}
