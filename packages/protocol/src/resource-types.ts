// The resource type names alone, apart from their schemas: the console's bundle imports these
// and, with `sideEffects: false`, none of the TypeBox schema building in resources.ts.

/** FHIR id rule (DESIGN §7). */
export const FHIR_ID_PATTERN = '^[A-Za-z0-9\\-.]{1,255}$';

/** The resource types the config service stores. */
export const RESOURCE_TYPES = ['TokenIntrospector', 'AccessPolicy', 'User', 'Client', 'Role'] as const;
export type ResourceType = (typeof RESOURCE_TYPES)[number];
