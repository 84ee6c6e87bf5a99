/**
 * Resources as policies may see them: without their stored secret hashes (DESIGN §11: password
 * hashes and secrets never reach explain output, events or logs, and a policy cannot match on
 * them). `User.password` and `Client.secret` are the fields the config service hashes.
 */
const SECRET_FIELDS = { User: 'password', Client: 'secret' } as const;

const views = new WeakMap<object, object>();

/**
 * `resource` without its secret field; the same object when it has none, and the same copy for
 * the same resource (memoised: the policy context of every request for a cached User or Client
 * shares it, the hot path allocates nothing).
 */
export function withoutSecret<T extends object>(resource: T, type: keyof typeof SECRET_FIELDS): T {
  const field = SECRET_FIELDS[type];
  if (!Object.hasOwn(resource, field)) return resource;
  const known = views.get(resource);
  if (known) return known as T;
  const { [field]: _secret, ...rest } = resource as Record<string, unknown>;
  views.set(resource, rest);
  return rest as T;
}
