import {
  constants,
  createHmac,
  createSecretKey,
  sign as cryptoSign,
  generateKeyPair,
  type KeyObject,
  randomBytes,
} from 'node:crypto';
import { createServer, type Server } from 'node:http';
import { promisify } from 'node:util';
import { exportJWK, type JWK, SignJWT } from 'jose';
import { freePort } from './ports.js';

/** Algorithms test tokens can be signed with. */
export type SigningAlg =
  | 'HS256'
  | 'HS384'
  | 'HS512'
  | 'RS256'
  | 'RS384'
  | 'RS512'
  | 'PS256'
  | 'PS384'
  | 'PS512'
  | 'ES256'
  | 'ES384'
  | 'ES512'
  | 'EdDSA';

/** A key that signs test tokens, with its public forms for configuring a verifier. */
export interface SigningKey {
  readonly alg: SigningAlg;
  readonly kid?: string;
  /** the private key, or the secret for HS* */
  readonly privateKey: KeyObject;
  /** public JWK as a JWKS publishes it (`kid`, `alg`, `use: sig`); absent for HS* */
  readonly publicJwk?: JWK;
  /** SPKI PEM of the public key (`-----BEGIN PUBLIC KEY-----`); absent for HS* */
  readonly publicPem?: string;
}

/**
 * Generates a signing key for `alg` (RSA 2048 unless `modulusLength` says otherwise, EC on the
 * curve of the alg, Ed25519 for EdDSA, 32 random bytes for HS*).
 */
export async function generateSigningKey(
  alg: SigningAlg,
  options: { kid?: string; modulusLength?: number } = {},
): Promise<SigningKey> {
  const kid = options.kid;
  if (alg.startsWith('HS')) return { alg, kid, privateKey: createSecretKey(randomBytes(32)) };
  // Asynchronous generation (libuv pool): a blocked event loop would stall an in-process IdP.
  const generate = promisify(generateKeyPair);
  const pair = alg.startsWith('ES')
    ? await generate('ec', { namedCurve: { ES256: 'P-256', ES384: 'P-384', ES512: 'P-521' }[alg as 'ES256'] })
    : alg === 'EdDSA'
      ? await generate('ed25519', {})
      : await generate('rsa', { modulusLength: options.modulusLength ?? 2048 });
  const jwk = await exportJWK(pair.publicKey);
  const publicJwk: JWK = { ...jwk, alg, use: 'sig', ...(kid === undefined ? {} : { kid }) };
  const publicPem = pair.publicKey.export({ type: 'spki', format: 'pem' }).toString();
  return { alg, kid, privateKey: pair.privateKey, publicJwk, publicPem };
}

/** Options of {@link mintJwt}. */
export interface MintOptions {
  /** a {@link SigningKey}, an HMAC secret string, or a raw KeyObject */
  key: SigningKey | string | KeyObject;
  /** header alg; defaults to the key's. Set it to sign with an algorithm the key is not for. */
  alg?: SigningAlg;
  /** header kid; defaults to the key's */
  kid?: string;
  /** claims on top of `iat: now, exp: now + 300`; a claim set to `undefined` is left out */
  claims?: Record<string, unknown>;
  /** extra protected header members (`crit`, `b64`, `typ` …); `crit`/`b64` are signed by hand */
  header?: Record<string, unknown>;
}

/**
 * A signed compact JWT. Uses jose's SignJWT, except for headers jose refuses to produce
 * (`crit`, `b64`), which are assembled and signed with node:crypto — still correctly signed,
 * so a verifier can only refuse them for the header itself.
 *
 * @example
 * const token = await mintJwt({ key: 'very-secret', alg: 'HS256', claims: { iss: 'https://auth.example.com', sub: 'u1' } });
 */
export async function mintJwt(options: MintOptions): Promise<string> {
  const { key, alg } = resolveKey(options);
  const kid = options.kid ?? (isSigningKey(options.key) ? options.key.kid : undefined);
  const now = Math.floor(Date.now() / 1000);
  const claims = dropUndefined({ iat: now, exp: now + 300, ...options.claims });
  const header = dropUndefined({ alg, ...(kid === undefined ? {} : { kid }), ...options.header });
  if (header.crit !== undefined || header.b64 !== undefined) return signCompact(header, claims, alg, key);
  return new SignJWT(claims).setProtectedHeader(header as { alg: string }).sign(key);
}

/**
 * Signs any header and payload by hand (node:crypto), for tokens jose would not produce.
 * `payload` may be a string to sign non-JSON content.
 */
export function signCompact(
  header: Record<string, unknown>,
  payload: Record<string, unknown> | string,
  alg: SigningAlg,
  key: KeyObject,
): string {
  const input = `${encodeSegment(header)}.${encodeSegment(payload)}`;
  return `${input}.${rawSignature(alg, key, Buffer.from(input)).toString('base64url')}`;
}

/**
 * An unsigned or hand-forged compact token: each part is JSON-encoded (strings are taken as the
 * raw text to encode), then base64url; `signature` is appended as given (default empty, as
 * with `alg: none`).
 */
export function forgeJwt(parts: { header: unknown; payload: unknown; signature?: string }): string {
  return `${encodeSegment(parts.header)}.${encodeSegment(parts.payload)}.${parts.signature ?? ''}`;
}

/** base64url of a JSON value, or of a string's raw text. */
export function encodeSegment(value: unknown): string {
  return Buffer.from(typeof value === 'string' ? value : JSON.stringify(value)).toString('base64url');
}

function rawSignature(alg: SigningAlg, key: KeyObject, input: Buffer): Buffer {
  const hash = alg === 'EdDSA' ? null : `sha${alg.slice(2)}`;
  if (alg.startsWith('HS'))
    return createHmac(hash as string, key)
      .update(input)
      .digest();
  if (alg.startsWith('RS')) return cryptoSign(hash, input, { key, padding: constants.RSA_PKCS1_PADDING });
  if (alg.startsWith('PS')) {
    return cryptoSign(hash, input, {
      key,
      padding: constants.RSA_PKCS1_PSS_PADDING,
      saltLength: constants.RSA_PSS_SALTLEN_DIGEST,
    });
  }
  if (alg.startsWith('ES')) return cryptoSign(hash, input, { key, dsaEncoding: 'ieee-p1363' });
  return cryptoSign(null, input, key);
}

function isSigningKey(key: MintOptions['key']): key is SigningKey {
  return typeof key === 'object' && 'privateKey' in key;
}

function resolveKey(options: MintOptions): { key: KeyObject; alg: SigningAlg } {
  const { key } = options;
  if (typeof key === 'string') return { key: createSecretKey(Buffer.from(key)), alg: options.alg ?? 'HS256' };
  if (isSigningKey(key)) return { key: key.privateKey, alg: options.alg ?? key.alg };
  if (!options.alg) throw new Error('mintJwt: give alg with a raw KeyObject');
  return { key, alg: options.alg };
}

function dropUndefined(value: Record<string, unknown>): Record<string, unknown> {
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined));
}

/** A stand-in identity provider serving a JWKS over real HTTP on 127.0.0.1. */
export interface TestIdp {
  /** `http://127.0.0.1:<port>`; also the issuer (`iss`) of {@link TestIdp.mint} tokens */
  readonly url: string;
  /** `<url>/.well-known/jwks.json` */
  readonly jwksUri: string;
  readonly port: number;
  /** published keys, oldest first */
  readonly keys: readonly SigningKey[];
  /** JWKS requests answered since start or the last {@link TestIdp.resetFetches} */
  readonly fetches: number;
  resetFetches(): void;
  /** generates and publishes a key (kid defaults to `<alg>-<n>`) */
  addKey(alg: Exclude<SigningAlg, 'HS256' | 'HS384' | 'HS512'>, kid?: string): Promise<SigningKey>;
  /** stops publishing a key */
  removeKey(kid: string): void;
  /** raw entries appended to the published `keys` array (malformed keys, private keys …) */
  setExtraEntries(entries: unknown[]): void;
  /** delays every JWKS answer, so concurrent requests overlap */
  setDelay(ms: number): void;
  /** OpenID discovery documents answered (`/.well-known/openid-configuration`) */
  readonly discoveryFetches: number;
  /** the `issuer` the discovery document names (default: {@link TestIdp.url}) */
  setDiscoveryIssuer(issuer: string): void;
  /** a token from this IdP: `iss` = url, signed with the key `kid` (default: the newest key) */
  mint(
    claims?: Record<string, unknown>,
    options?: { kid?: string; header?: Record<string, unknown> },
  ): Promise<string>;
  /** closes the port (open connections too); {@link TestIdp.start} reopens the same port */
  stop(): Promise<void>;
  start(): Promise<void>;
  dispose(): Promise<void>;
}

/** Starts a {@link TestIdp} publishing an RS256 (`rs256-1`) and an ES256 (`es256-1`) key unless `algs` says otherwise. */
export async function startIdp(
  options: { algs?: Exclude<SigningAlg, 'HS256' | 'HS384' | 'HS512'>[]; port?: number } = {},
): Promise<TestIdp> {
  const port = options.port ?? (await freePort());
  const url = `http://127.0.0.1:${port}`;
  const keys: SigningKey[] = [];
  let extra: unknown[] = [];
  let delayMs = 0;
  let fetches = 0;
  const counters = new Map<string, number>();
  let server: Server | undefined;

  let discoveryIssuer = url;
  let discoveryFetches = 0;
  const handle: Parameters<typeof createServer>[1] = (req, res) => {
    if (req.url === '/.well-known/openid-configuration') {
      // OpenID Connect Discovery 1.0 §3: the members a verifier reads.
      discoveryFetches++;
      const doc = { issuer: discoveryIssuer, jwks_uri: `${url}/.well-known/jwks.json` };
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(doc));
      return;
    }
    if (req.url !== '/.well-known/jwks.json') {
      res.writeHead(404).end();
      return;
    }
    fetches++;
    const body = JSON.stringify({ keys: [...keys.map((k) => k.publicJwk), ...extra] });
    setTimeout(() => res.writeHead(200, { 'content-type': 'application/json' }).end(body), delayMs);
  };
  const start = () =>
    new Promise<void>((resolve, reject) => {
      const s = createServer(handle);
      s.once('error', reject);
      s.listen(port, '127.0.0.1', () => {
        server = s;
        resolve();
      });
    });
  const stop = () =>
    new Promise<void>((resolve) => {
      const s = server;
      server = undefined;
      if (!s) return resolve();
      s.close(() => resolve());
      s.closeAllConnections();
    });
  const addKey: TestIdp['addKey'] = async (alg, kid) => {
    const n = (counters.get(alg) ?? 0) + 1;
    counters.set(alg, n);
    const key = await generateSigningKey(alg, { kid: kid ?? `${alg.toLowerCase()}-${n}` });
    keys.push(key);
    return key;
  };

  for (const alg of options.algs ?? ['RS256', 'ES256']) await addKey(alg);
  await start();
  return {
    url,
    jwksUri: `${url}/.well-known/jwks.json`,
    port,
    keys,
    get fetches() {
      return fetches;
    },
    resetFetches: () => {
      fetches = 0;
    },
    addKey,
    removeKey: (kid) => {
      const index = keys.findIndex((k) => k.kid === kid);
      if (index >= 0) keys.splice(index, 1);
    },
    setExtraEntries: (entries) => {
      extra = entries;
    },
    setDelay: (ms) => {
      delayMs = ms;
    },
    get discoveryFetches() {
      return discoveryFetches;
    },
    setDiscoveryIssuer: (issuer) => {
      discoveryIssuer = issuer;
    },
    mint: (claims = {}, mintOptions = {}) => {
      const key = mintOptions.kid === undefined ? keys.at(-1) : keys.find((k) => k.kid === mintOptions.kid);
      if (!key) throw new Error(`the IdP has no key ${mintOptions.kid ?? ''}`);
      return mintJwt({ key, claims: { iss: url, ...claims }, header: mintOptions.header });
    },
    stop,
    start,
    dispose: stop,
  };
}
