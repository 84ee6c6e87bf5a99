import { execFileSync } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, request as httpRequest, type IncomingHttpHeaders, type Server } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  ensureNginx,
  freePort,
  mintJwt,
  startCluster,
  startNginx,
  type TestCluster,
  type TestNginx,
} from '@authz/test-support';
import { calculateThumbprint, generateKeyPair, generateProof, type KeyPair } from 'dpop';
import { afterAll, beforeAll, describe, expect, it, type TestContext } from 'vitest';

// Sender-constrained tokens behind a real nginx terminating TLS (DESIGN §13): nginx verifies the
// client certificate (made here with openssl) and hands it to the gateway's forward-auth as
// $ssl_client_escaped_cert through infra/nginx/authz.conf; nginx connects to the gateway from
// 127.0.0.2, the only trusted proxy, so the test itself (127.0.0.1) is an untrusted peer.

const root = fileURLToPath(new URL('../', import.meta.url));
const ISSUER = 'https://mtls-idp.test';
const SECRET = 'sender-nginx-secret';

interface Answer {
  status: number;
  headers: IncomingHttpHeaders;
  body: string;
}

function openssl(dir: string, args: string[]): void {
  execFileSync('openssl', args, { cwd: dir, stdio: 'pipe' });
}

/** A CA, a server certificate for 127.0.0.1 and two client certificates, all P-256. */
function makeCertificates(dir: string): void {
  const ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes'];
  openssl(dir, [
    'req',
    '-x509',
    ...ec,
    '-keyout',
    'ca.key',
    '-out',
    'ca.crt',
    '-subj',
    '/CN=authz test CA',
    '-days',
    '2',
  ]);
  const issue = (name: string, ext: string) => {
    writeFileSync(join(dir, `${name}.ext`), ext);
    openssl(dir, ['req', ...ec, '-keyout', `${name}.key`, '-out', `${name}.csr`, '-subj', `/CN=${name}`]);
    openssl(dir, [
      'x509',
      '-req',
      '-in',
      `${name}.csr`,
      '-CA',
      'ca.crt',
      '-CAkey',
      'ca.key',
      '-CAcreateserial',
      '-out',
      `${name}.crt`,
      '-days',
      '2',
      '-extfile',
      `${name}.ext`,
    ]);
  };
  issue('server', 'subjectAltName=IP:127.0.0.1\nextendedKeyUsage=serverAuth\n');
  issue('alice', 'extendedKeyUsage=clientAuth\n');
  issue('mallory', 'extendedKeyUsage=clientAuth\n');
}

function nginxConf(dir: string, ports: { nginx: number; gateway: number; app: number }): string {
  return `pid ${dir}/nginx.pid;
error_log stderr warn;
events { worker_connections 256; }
http {
  access_log off;
${['client_body', 'proxy', 'fastcgi', 'uwsgi', 'scgi'].map((t) => `  ${t}_temp_path ${dir}/${t};`).join('\n')}
  # nginx reaches the gateway from 127.0.0.2: the gateway trusts that address only.
  proxy_bind 127.0.0.2;
  upstream authz_gateway { server 127.0.0.1:${ports.gateway}; keepalive 4; }
  upstream app { server 127.0.0.1:${ports.app}; }
  server {
    listen 127.0.0.1:${ports.nginx} ssl;
    ssl_certificate ${dir}/server.crt;
    ssl_certificate_key ${dir}/server.key;
    ssl_client_certificate ${dir}/ca.crt;
    ssl_verify_client optional;
    include ${root}infra/nginx/authz.conf;
    location / {
      include ${root}infra/nginx/authz-proxy-headers.conf;
      proxy_pass http://app;
    }
  }
}
`;
}

describe('certificate-bound and DPoP-bound tokens behind nginx terminating TLS', () => {
  let cluster: TestCluster;
  let app: Server;
  let nginx: TestNginx | undefined;
  let dir: string;
  let nginxPort: number;
  let gatewayPort: number;
  let skipReason: string | undefined;
  let certBound: string;
  let dpopKeys: KeyPair;
  let dpopBound: string;
  const seen: IncomingHttpHeaders[] = [];
  const needNginx = (ctx: TestContext) => {
    if (skipReason) ctx.skip(skipReason);
  };
  const file = (name: string) => readFileSync(join(dir, name), 'utf8');

  /** A request to nginx over TLS, with the named client certificate or none. */
  const viaNginx = (path: string, headers: Record<string, string>, cert?: 'alice' | 'mallory') =>
    new Promise<Answer>((resolve, reject) => {
      const req = httpsRequest(
        {
          host: '127.0.0.1',
          port: nginxPort,
          path,
          headers,
          ca: file('ca.crt'),
          ...(cert ? { cert: file(`${cert}.crt`), key: file(`${cert}.key`) } : {}),
          agent: false,
        },
        (res) => collect(res, resolve),
      );
      req.on('error', reject).end();
    });

  /** A forward-auth request straight to the gateway from `localAddress`. */
  const direct = (localAddress: string, headers: Record<string, string>) =>
    new Promise<Answer>((resolve, reject) => {
      const req = httpRequest(
        {
          host: '127.0.0.1',
          port: gatewayPort,
          path: '/_authz/forward',
          headers,
          localAddress,
          agent: false,
        },
        (res) => collect(res, resolve),
      );
      req.on('error', reject).end();
    });

  beforeAll(async () => {
    const found = await ensureNginx();
    if ('skip' in found) {
      skipReason = found.skip;
      console.warn(`sender-constrained nginx tests skipped: ${skipReason}`);
      return;
    }
    dir = mkdtempSync(join(tmpdir(), 'authz-sender-nginx-'));
    makeCertificates(dir);
    const appPort = await freePort();
    app = createServer((req, res) => {
      seen.push(req.headers);
      res.writeHead(200, { 'content-type': 'text/plain' }).end('from the application');
    });
    await new Promise<void>((r) => app.listen(appPort, '127.0.0.1', () => r()));
    cluster = await startCluster({ workers: 1, gatewayEnv: { GATEWAY_TRUSTED_PROXIES: '127.0.0.2/32' } });
    const puts: Array<[string, unknown]> = [
      [
        '/TokenIntrospector/idp',
        { resourceType: 'TokenIntrospector', type: 'jwt', jwt: { iss: ISSUER, secret: SECRET } },
      ],
      [
        '/AccessPolicy/issuer',
        { resourceType: 'AccessPolicy', engine: 'matcho', matcho: { jwt: { iss: ISSUER } } },
      ],
    ];
    for (const [path, body] of puts) expect((await cluster.admin('PUT', path, body)).status).toBe(201);

    const aliceSha256 = new X509Certificate(file('alice.crt')).fingerprint256.replaceAll(':', '');
    const x5t = Buffer.from(aliceSha256, 'hex').toString('base64url');
    certBound = await mintJwt({
      key: SECRET,
      alg: 'HS256',
      claims: { iss: ISSUER, sub: 'alice', cnf: { 'x5t#S256': x5t } },
    });
    dpopKeys = await generateKeyPair('ES256');
    const jkt = await calculateThumbprint(dpopKeys.publicKey);
    dpopBound = await mintJwt({
      key: SECRET,
      alg: 'HS256',
      claims: { iss: ISSUER, sub: 'bob', cnf: { jkt } },
    });

    nginxPort = await freePort();
    gatewayPort = Number(new URL(cluster.gatewayUrl).port);
    writeFileSync(
      join(dir, 'nginx.conf'),
      nginxConf(dir, { nginx: nginxPort, gateway: gatewayPort, app: appPort }),
    );
    nginx = await startNginx(found.binary, dir, nginxPort);

    const plain = await mintJwt({ key: SECRET, alg: 'HS256', claims: { iss: ISSUER, sub: 'carol' } });
    const deadline = Date.now() + 10_000;
    while ((await viaNginx('/fhir/Patient', { authorization: `Bearer ${plain}` })).status !== 200) {
      if (Date.now() > deadline)
        throw new Error(`the configuration never reached the worker; nginx: ${nginx.errors()}`);
      await new Promise((r) => setTimeout(r, 50));
    }
  }, 300_000);

  afterAll(async () => {
    await nginx?.stop();
    await cluster?.stop();
    app?.close();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  const bearer = () => ({ authorization: `Bearer ${certBound}` });

  it('passes a certificate-bound token presented with its certificate', async (ctx) => {
    needNginx(ctx);
    seen.length = 0;
    const answer = await viaNginx('/fhir/Patient', bearer(), 'alice');
    expect(answer.status).toBe(200);
    expect(answer.body).toBe('from the application');
    expect(seen[0]?.['x-authz-subject']).toBe('alice');
  });

  it('refuses it with another certificate the CA signed', async (ctx) => {
    needNginx(ctx);
    const answer = await viaNginx('/fhir/Patient', bearer(), 'mallory');
    expect(answer.status).toBe(401);
    expect(answer.headers['www-authenticate']).toMatch(
      /^Bearer realm="authz", error="invalid_token", error_description="The token is bound to another client certificate/,
    );
  });

  it('refuses it without a certificate, and ignores a certificate header the client sends itself', async (ctx) => {
    needNginx(ctx);
    const none = await viaNginx('/fhir/Patient', bearer());
    expect(none.status).toBe(401);
    expect(none.headers['www-authenticate']).toContain('came without one');
    const forged = await viaNginx('/fhir/Patient', {
      ...bearer(),
      'x-ssl-client-cert': encodeURIComponent(file('alice.crt')),
    });
    expect(forged.status).toBe(401);
    expect(forged.headers['www-authenticate']).toContain('came without one');
  });

  it('believes the certificate header only from a trusted proxy', async (ctx) => {
    needNginx(ctx);
    const headers = {
      ...bearer(),
      'x-original-method': 'GET',
      'x-original-uri': '/fhir/Patient',
      'x-ssl-client-cert': encodeURIComponent(file('alice.crt')),
    };
    const untrusted = await direct('127.0.0.1', headers);
    expect(untrusted.status).toBe(401);
    expect(untrusted.headers['www-authenticate']).toContain('came without one');
    // The same request from the trusted address passes: the header is what decided above.
    expect((await direct('127.0.0.2', headers)).status).toBe(200);
    const garbled = await direct('127.0.0.2', { ...headers, 'x-ssl-client-cert': 'not-a-certificate' });
    expect(garbled.status).toBe(400);
    expect(JSON.parse(garbled.body).issue[0].diagnostics).toBe(
      'x-ssl-client-cert from the trusted proxy is not a URL-encoded PEM certificate',
    );
  });

  it('builds a DPoP htu from X-Forwarded-Proto and X-Forwarded-Host as the client addressed nginx', async (ctx) => {
    needNginx(ctx);
    const htu = `https://127.0.0.1:${nginxPort}/fhir/Patient`;
    const proof = await generateProof(dpopKeys, htu, 'GET', undefined, dpopBound);
    const ok = await viaNginx('/fhir/Patient?_count=1', { authorization: `DPoP ${dpopBound}`, dpop: proof });
    expect(ok.status).toBe(200);
    const plainHttp = await generateProof(
      dpopKeys,
      htu.replace('https:', 'http:'),
      'GET',
      undefined,
      dpopBound,
    );
    const refused = await viaNginx('/fhir/Patient', { authorization: `DPoP ${dpopBound}`, dpop: plainHttp });
    expect(refused.status).toBe(401);
    expect(refused.headers['www-authenticate']).toMatch(
      /^DPoP realm="authz", algs="ES256 [^"]*", error="invalid_dpop_proof"/,
    );
    expect(refused.headers['www-authenticate']).toContain(`request was made to ${htu}`);
  });
});

function collect(res: import('node:http').IncomingMessage, resolve: (answer: Answer) => void): void {
  let body = '';
  res.setEncoding('utf8');
  res.on('data', (c: string) => (body += c));
  res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
}
