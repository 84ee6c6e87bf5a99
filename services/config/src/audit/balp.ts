import { parseFhirRoute } from '@authz/policy';
import type { DecisionEvent } from '@authz/protocol';

/**
 * A decision event as kept in the stream. `client` and `error_code` are the §14 additions; they
 * are optional so events written before them (or by an older worker) still read.
 */
export type AuditDecision = DecisionEvent & { client?: string; error_code?: string };

/** BALP / FHIR AuditEvent.outcome: `0` success, `4` minor failure (denied), `8` serious (could not decide). */
export type AuditOutcome = '0' | '4' | '8';

/** The AuditEvent outcome of a decision: allowed, denied (400/401/403), or could not decide (503). */
export function outcomeOf(event: Pick<DecisionEvent, 'allow' | 'status'>): AuditOutcome {
  if (event.allow && event.status === 200) return '0';
  return event.status === 503 ? '8' : '4';
}

const OUTCOME_TEXT: Record<AuditOutcome, string> = { '0': 'allowed', '4': 'denied', '8': 'could not decide' };

// Code systems BALP uses (IHE ITI BALP, FHIR R4 AuditEvent).
const AUDIT_EVENT_TYPE = 'http://terminology.hl7.org/CodeSystem/audit-event-type';
const RESTFUL_INTERACTION = 'http://hl7.org/fhir/restful-interaction';
const PARTICIPATION = 'http://terminology.hl7.org/CodeSystem/v3-ParticipationType';
const SOURCE_TYPE = 'http://terminology.hl7.org/CodeSystem/security-source-type';
const ENTITY_TYPE = 'http://terminology.hl7.org/CodeSystem/audit-entity-type';
const OBJECT_ROLE = 'http://terminology.hl7.org/CodeSystem/object-role';
const BALP_ENTITY_TYPE = 'https://profiles.ihe.net/ITI/BALP/CodeSystem/BasicAuditEntityType';

interface Coding {
  system: string;
  code: string;
  display?: string;
}

/** An AuditEvent agent: the User or Client (`who.reference`), or who else asked. */
export interface AuditAgent {
  type: { coding: Coding[] };
  who: { reference?: string; display?: string; identifier?: { system?: string; value: string } };
  requestor: boolean;
}

/** An AuditEvent entity; the request's own entity carries `detail` (method, path, status, …). */
export interface AuditEntity {
  what: { reference?: string; display?: string; identifier?: { value: string } };
  type: Coding;
  role?: Coding;
  detail?: Array<{ type: string; valueString: string }>;
}

/** The FHIR R4 AuditEvent this service answers. */
export interface AuditEventResource {
  resourceType: 'AuditEvent';
  id: string;
  type: Coding;
  subtype?: Coding[];
  action: string;
  recorded: string;
  outcome: AuditOutcome;
  outcomeDesc: string;
  agent: AuditAgent[];
  source: { site: string; observer: { display: string }; type: Coding[] };
  entity: AuditEntity[];
}

/** AuditEvent.action (C/R/U/D/E) of an HTTP method. */
const ACTION: Record<string, string> = { GET: 'R', HEAD: 'R', POST: 'C', PUT: 'U', PATCH: 'U', DELETE: 'D' };

/**
 * One decision as a FHIR R4 AuditEvent in the shape of IHE BALP's RESTful-activity events:
 * `agent[]` the User and Client (`who.reference`), `source.observer` the worker that decided,
 * `entity[]` the FHIR resource the route names, the AccessPolicy that allowed, the request id
 * (BALP's X-Request-Id transaction entity) and the request itself (method, path, query —
 * the worker already redacted credential parameters; DESIGN §5 "never a token or secret").
 * `id` is the event's sequence in the `AUTHZ_DECISIONS` stream.
 */
export function toAuditEvent(seq: number, event: AuditDecision): AuditEventResource {
  const outcome = outcomeOf(event);
  const method = String(event.method).toUpperCase();
  const uri = String(event.uri);
  const q = uri.indexOf('?');
  const path = q < 0 ? uri : uri.slice(0, q);
  const route = parseFhirRoute(path);
  const interaction = route.type ? restInteraction(method, route.id !== undefined) : undefined;
  return {
    resourceType: 'AuditEvent',
    id: String(seq),
    type: { system: AUDIT_EVENT_TYPE, code: 'rest', display: 'RESTful Operation' },
    ...(interaction ? { subtype: [{ system: RESTFUL_INTERACTION, code: interaction }] } : {}),
    action: ACTION[method] ?? 'E',
    recorded: event.time,
    outcome,
    outcomeDesc: `${OUTCOME_TEXT[outcome]} (${event.status}): ${event.reason}`,
    agent: agents(event),
    source: {
      site: 'authz',
      observer: { display: event.worker ? `authz-worker ${event.worker}` : 'authz-worker' },
      type: [{ system: SOURCE_TYPE, code: '4', display: 'Application Server' }],
    },
    entity: entities(event, method, path, uri, q, route),
  };
}

function agents(event: AuditDecision): AuditAgent[] {
  const list: AuditAgent[] = [];
  const requestor = {
    type: { coding: [{ system: PARTICIPATION, code: 'IRCP', display: 'information recipient' }] },
  };
  if (event.user) list.push({ ...requestor, who: { reference: `User/${event.user}` }, requestor: true });
  if (event.client) {
    list.push({ ...requestor, who: { reference: `Client/${event.client}` }, requestor: !event.user });
  }
  if (list.length === 0) {
    // A subject without a User resource, or no credentials at all: still an agent (1..*).
    const who = event.subject
      ? {
          identifier: {
            system: `urn:authz:introspector:${event.introspector ?? 'unknown'}`,
            value: event.subject,
          },
        }
      : { display: 'anonymous' };
    list.push({ ...requestor, who, requestor: true });
  }
  return list;
}

function entities(
  event: AuditDecision,
  method: string,
  path: string,
  uri: string,
  q: number,
  route: ReturnType<typeof parseFhirRoute>,
): AuditEntity[] {
  const list: AuditEntity[] = [];
  if (route.type) {
    const reference = route.id
      ? `${route.type}/${route.id}${route.vid ? `/_history/${route.vid}` : ''}`
      : route.type;
    list.push({
      what: route.id ? { reference } : { display: reference },
      type: { system: ENTITY_TYPE, code: '2', display: 'System Object' },
    });
  }
  if (event.policy) {
    list.push({
      what: { reference: `AccessPolicy/${event.policy}` },
      type: { system: ENTITY_TYPE, code: '2', display: 'System Object' },
      role: { system: OBJECT_ROLE, code: '13', display: 'Security Resource' },
    });
  }
  list.push({
    what: { identifier: { value: event.request_id } },
    type: { system: BALP_ENTITY_TYPE, code: 'XrequestId', display: 'X-Request-Id' },
  });
  const details: Array<[string, string | number | undefined]> = [
    ['method', method],
    ['path', path],
    ['query', q < 0 ? undefined : uri.slice(q + 1)],
    ['status', event.status],
    ['reason', event.reason],
    ['error', event.error],
    ['error_code', event.error_code],
    ['subject', event.subject],
    ['introspector', event.introspector],
    ['latency_ms', event.latency],
    ['revision', event.revision],
  ];
  list.push({
    what: { display: `${method} ${uri}` },
    type: { system: ENTITY_TYPE, code: '2', display: 'System Object' },
    role: { system: OBJECT_ROLE, code: '24', display: 'Query' },
    detail: details
      .filter(([, v]) => v !== undefined && v !== '')
      .map(([type, value]) => ({ type, valueString: String(value) })),
  });
  return list;
}

function restInteraction(method: string, hasId: boolean): string | undefined {
  switch (method) {
    case 'GET':
    case 'HEAD':
      return hasId ? 'read' : 'search-type';
    case 'POST':
      return hasId ? undefined : 'create';
    case 'PUT':
      return 'update';
    case 'PATCH':
      return 'patch';
    case 'DELETE':
      return 'delete';
    default:
      return undefined;
  }
}
