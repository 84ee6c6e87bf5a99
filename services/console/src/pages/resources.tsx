import { useEffect, useState } from 'preact/hooks';
import { callApi } from '../api/client.js';
import { RESOURCE_TYPES, type ResourceType } from '../api/types.js';
import { ErrorNote } from '../components/issues.js';
import { routeHash } from '../route.js';
import { ResourceEditor } from './resource-editor.js';

interface Bundle {
  total: number;
  entry?: Array<{ resource: { id: string } }>;
}

/**
 * Resources: pick a type, see its ids, open one (or a new one) in the YAML editor. `id` comes
 * from the URL fragment so a resource can be linked (`#/resources/AccessPolicy/p1`).
 */
export function ResourcesPage({
  type,
  id,
  creating,
}: {
  type: ResourceType;
  id?: string;
  creating: boolean;
}) {
  const [ids, setIds] = useState<string[]>([]);
  const [total, setTotal] = useState(0);
  const [error, setError] = useState<string>();
  const [reloads, setReloads] = useState(0);

  useEffect(() => {
    let live = true;
    setError(undefined);
    callApi<Bundle>('GET', `/${type}?_count=1000`)
      .then(({ body }) => {
        if (!live) return;
        setIds((body.entry ?? []).map((e) => e.resource.id));
        setTotal(body.total);
      })
      .catch((err: Error) => live && setError(err.message));
    return () => {
      live = false;
    };
  }, [type, reloads]);

  const changed = (nextId?: string) => {
    setReloads((n) => n + 1);
    location.hash = routeHash({ page: 'resources', type, id: nextId });
  };

  return (
    <div class="resources">
      <nav class="resource-list" aria-label="Resources">
        <label for="resource-type">Type</label>
        <select
          id="resource-type"
          value={type}
          onChange={(e) => {
            location.hash = routeHash({
              page: 'resources',
              type: (e.target as HTMLSelectElement).value as ResourceType,
            });
          }}
        >
          {RESOURCE_TYPES.map((t) => (
            <option key={t} value={t}>
              {t}
            </option>
          ))}
        </select>
        <button
          type="button"
          onClick={() => (location.hash = routeHash({ page: 'resources', type, creating: true }))}
        >
          New {type}
        </button>
        <ErrorNote message={error} />
        <p class="muted">
          {total} {total === 1 ? 'resource' : 'resources'}
        </p>
        <ul>
          {ids.map((rid) => (
            <li key={rid}>
              <a
                href={routeHash({ page: 'resources', type, id: rid })}
                aria-current={rid === id ? 'page' : undefined}
              >
                {rid}
              </a>
            </li>
          ))}
        </ul>
      </nav>
      <section class="resource-pane">
        {creating || id ? (
          <ResourceEditor
            key={creating ? `new-${type}` : `${type}/${id}`}
            type={type}
            id={creating ? undefined : id}
            onChanged={changed}
          />
        ) : (
          <p class="muted">Choose a {type} on the left, or create a new one.</p>
        )}
      </section>
    </div>
  );
}
