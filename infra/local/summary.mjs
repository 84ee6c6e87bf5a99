// What the runner prints once everything is ready: where each piece listens, the credentials,
// the pids, and a copy-paste walkthrough (the seed guide: introspector, policy, user, JWT, call).
import { reachableHost } from './ports.mjs';

/** Masks the password of a URL given by the user (it is theirs to know, not ours to print). */
export function redactUrl(url) {
  return url.replace(/\/\/([^:@/]*):[^@/]*@/, '//$1:***@');
}

/**
 * The facts of a running cluster, as one object (printed as JSON with `LOG_FORMAT=json`).
 * @param {import('./cluster.mjs').LocalCluster} cluster
 */
export function describe(cluster) {
  const { settings, nats, redis } = cluster;
  const natsAuth = nats.external
    ? undefined
    : settings.natsAuth.token
      ? { token: settings.natsAuth.token }
      : { user: settings.natsAuth.user, password: settings.natsAuth.password };
  return {
    nats: {
      urls: nats.external ? settings.natsUrl.split(',').map((u) => redactUrl(u.trim())) : nats.urls,
      external: nats.external,
      ...(nats.external ? {} : { nodes: nats.urls.length, monitor: nats.monitor, auth: natsAuth }),
      ...(nats.leader ? { metaLeader: nats.leader } : {}),
    },
    redis: { url: redis.external ? redactUrl(redis.url) : redis.url, external: redis.external },
    config: {
      url: cluster.serviceUrl(cluster.config, settings.configPort.port),
      adminUser: settings.adminUser,
      adminPassword: settings.adminPassword,
      adminPasswordGenerated: settings.adminPasswordGenerated,
      kvReplicas: settings.kvReplicas,
    },
    gateway: {
      url: cluster.serviceUrl(cluster.gateway, settings.gatewayPort.port),
      upstream: settings.upstreamUrl ?? null,
      extAuthzGrpc: cluster.gatewayGrpcPort
        ? `${reachableHost(settings.host)}:${cluster.gatewayGrpcPort}`
        : null,
    },
    workers: cluster.workers.map((w, i) => ({
      name: w.name,
      pid: w.pid,
      url: `http://${reachableHost(settings.host)}:${cluster.workerPorts[i]}`,
    })),
    processes: cluster.processes(),
    stateDir: cluster.stateDir,
  };
}

const JWT_ONE_LINER =
  `node -e 'const c=require("node:crypto"),e=o=>Buffer.from(JSON.stringify(o)).toString("base64url"),` +
  `s=e({alg:"HS256",typ:"JWT"})+"."+e({iss:"https://auth.example.com",sub:"some-user-id",` +
  `exp:Math.floor(Date.now()/1000)+3600});console.log(s+"."+c.createHmac("sha256","very-secret").update(s).digest("base64url"))'`;

/**
 * The human summary.
 * @param {ReturnType<typeof describe>} facts
 * @param {(code: number, s: string) => string} paint
 */
export function renderSummary(facts, paint) {
  const bold = (s) => paint(1, s);
  const dim = (s) => paint(90, s);
  const row = (label, value) => `  ${bold(label.padEnd(9))} ${value}`;
  const { nats, redis, config, gateway } = facts;
  const natsLine = nats.external
    ? `${nats.urls.join(',')} ${dim('(external)')}`
    : `${nats.urls.join(',')} ${dim(
        `(JetStream${nats.nodes > 1 ? `, ${nats.nodes}-node cluster, meta leader ${nats.metaLeader}` : ''}; ` +
          (nats.auth.token
            ? `token ${nats.auth.token}`
            : `user ${nats.auth.user}, password ${nats.auth.password}`) +
          ')',
      )}`;
  const admin = `${config.adminUser}:${config.adminPassword}`;
  const lines = [
    '',
    bold('authz local cluster is up') + dim(' — Ctrl-C stops everything'),
    '',
    row('NATS', natsLine),
    row('Redis', `${redis.url}${redis.external ? dim(' (external)') : ''}`),
    row('config', `${config.url} ${dim(`admin user ${config.adminUser}, password ${config.adminPassword}`)}`),
    row(
      'gateway',
      `${gateway.url} ${dim(gateway.upstream ? `→ ${gateway.upstream}` : '(no UPSTREAM_URL: allowed requests get the decision JSON)')}`,
    ),
    ...(gateway.extAuthzGrpc ? [row('ext_authz', `${gateway.extAuthzGrpc} ${dim('(Envoy gRPC)')}`)] : []),
    row(
      'workers',
      facts.workers.length === 0
        ? 'none (WORKERS=0)'
        : facts.workers.map((w) => `${w.name} ${w.url}`).join('  '),
    ),
    row('pids', facts.processes.map((p) => `${p.name}=${p.pid}`).join(' ')),
    '',
    bold('Try it') + dim(' (the seed walkthrough; copy-paste into bash):'),
    `  CONFIG=${config.url} GATEWAY=${gateway.url} ADMIN='${admin}'`,
    `  curl -su "$ADMIN" -w '\\n' -X PUT "$CONFIG/TokenIntrospector/external-auth-server" -H 'content-type: application/json' \\`,
    `    -d '{"resourceType":"TokenIntrospector","id":"external-auth-server","type":"jwt","jwt":{"iss":"https://auth.example.com","secret":"very-secret"}}'`,
    `  curl -su "$ADMIN" -w '\\n' -X PUT "$CONFIG/AccessPolicy/external-auth-server" -H 'content-type: application/json' \\`,
    `    -d '{"resourceType":"AccessPolicy","id":"external-auth-server","engine":"json-schema","schema":{"required":["jwt"],"properties":{"jwt":{"required":["iss"],"properties":{"iss":{"constant":"https://auth.example.com"}}}}}}'`,
    `  curl -su "$ADMIN" -w '\\n' -X PUT "$CONFIG/User/some-user-id" -H 'content-type: application/json' -d '{"resourceType":"User","id":"some-user-id"}'`,
    `  TOKEN=$(${JWT_ONE_LINER})`,
    `  curl -i "$GATEWAY/fhir/Patient" -H "authorization: Bearer $TOKEN"`,
    '',
  ];
  return lines.join('\n') + '\n';
}
