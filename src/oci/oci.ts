/**
 * Wasm modules as OCI artifacts over the OCI distribution API (plain fetch, no registry SDK).
 *
 * Layout: the CNCF TAG-Runtime wasm artifact form, as pushed by wkg/wash (oci-wasm):
 *   manifest  application/vnd.oci.image.manifest.v1+json
 *   config    application/vnd.wasm.config.v0+json  {created, architecture:"wasm", os:"wasip1", layerDigests}
 *   layer     application/wasm                     the module bytes
 * Every byte that comes back from a registry is checked against its digest before use.
 */
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';

export const OCI_MANIFEST_MEDIA_TYPE = 'application/vnd.oci.image.manifest.v1+json';
export const OCI_INDEX_MEDIA_TYPE = 'application/vnd.oci.image.index.v1+json';
export const WASM_CONFIG_MEDIA_TYPE = 'application/vnd.wasm.config.v0+json';
export const WASM_LAYER_MEDIA_TYPE = 'application/wasm';
/** Older layer types other tools still push; accepted on pull only. */
const LEGACY_WASM_LAYER_TYPES = [
  'application/vnd.wasm.content.layer.v1+wasm',
  'application/vnd.module.wasm.content.layer.v1+wasm',
  'application/vnd.bytecodealliance.wasm.component.layer.v0+wasm',
];

const MAX_MANIFEST_BYTES = 4 * 1024 * 1024;
const DEFAULT_MAX_MODULE_BYTES = 256 * 1024 * 1024;

export interface OciAuth {
  username?: string;
  password?: string;
  /** A ready bearer token (e.g. from a CI secret); skips the token endpoint. */
  token?: string;
}

export interface OciOptions {
  auth?: OciAuth;
  /** Allow plain http to a registry that is not on loopback. */
  insecure?: boolean;
  /** Creation time for the config (default SOURCE_DATE_EPOCH or now); fixing it makes pushes reproducible. */
  created?: Date;
  /** Refuse layers bigger than this on pull (default 256 MiB). */
  maxBytes?: number;
  fetch?: typeof fetch;
}

export interface OciRef {
  /** host[:port] as written (docker.io for Docker Hub). */
  registry: string;
  repository: string;
  tag?: string;
  digest?: string;
}

export interface Descriptor {
  mediaType: string;
  digest: string;
  size: number;
  annotations?: Record<string, string>;
}

export interface PushResult {
  ref: string;
  /** Digest of the manifest: pin with <registry>/<repo>@<digest>. */
  digest: string;
  manifest: Descriptor;
  config: Descriptor;
  layer: Descriptor;
  /** config + layer + manifest bytes, i.e. what a node downloads. */
  totalBytes: number;
}

export interface PullResult {
  bytes: Uint8Array;
  /** Digest of the wasm layer (what the module cache is keyed by). */
  digest: string;
  manifestDigest: string;
}

export function sha256Digest(bytes: Uint8Array): string {
  return `sha256:${createHash('sha256').update(bytes).digest('hex')}`;
}

const DIGEST_RE = /^sha256:[a-f0-9]{64}$/;
const REPO_RE = /^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*(?:\/[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*)*$/;
const TAG_RE = /^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$/;

/**
 * Parses `[oci://]registry/repo[:tag][@sha256:...]`. A first segment without '.', ':' or
 * "localhost" is a Docker Hub path, as docker does it.
 */
export function parseRef(input: string): OciRef {
  const raw = input.startsWith('oci://') ? input.slice('oci://'.length) : input;
  const fail = (why: string): never => {
    throw new Error(`invalid OCI reference ${JSON.stringify(input)}: ${why} (expected <registry>/<repository>[:tag][@sha256:<hex>], e.g. 127.0.0.1:5000/mail-lines:v1)`);
  };
  let rest = raw;
  let digest: string | undefined;
  const at = rest.indexOf('@');
  if (at >= 0) {
    digest = rest.slice(at + 1);
    rest = rest.slice(0, at);
    if (!DIGEST_RE.test(digest)) fail(`digest ${JSON.stringify(digest)} is not sha256:<64 hex digits>`);
  }
  const slash = rest.indexOf('/');
  let registry = 'docker.io';
  let remainder = rest;
  if (slash > 0) {
    const first = rest.slice(0, slash);
    if (first.includes('.') || first.includes(':') || first === 'localhost') {
      registry = first;
      remainder = rest.slice(slash + 1);
    }
  }
  let tag: string | undefined;
  const colon = remainder.lastIndexOf(':');
  if (colon >= 0) {
    tag = remainder.slice(colon + 1);
    remainder = remainder.slice(0, colon);
    if (!TAG_RE.test(tag)) fail(`tag ${JSON.stringify(tag)} is not valid`);
  }
  if (!remainder) fail('the repository is missing');
  if (!REPO_RE.test(remainder)) fail(`repository ${JSON.stringify(remainder)} must be lowercase letters, digits and separators`);
  if (registry === 'docker.io' && !remainder.includes('/')) remainder = `library/${remainder}`;
  if (!tag && !digest) tag = 'latest';
  return { registry, repository: remainder, ...(tag ? { tag } : {}), ...(digest ? { digest } : {}) };
}

export function formatRef(ref: OciRef): string {
  return `${ref.registry}/${ref.repository}${ref.tag ? `:${ref.tag}` : ''}${ref.digest ? `@${ref.digest}` : ''}`;
}

/** True for localhost, 127.0.0.0/8 and ::1 (with or without a port). */
export function isLoopbackRegistry(registry: string): boolean {
  let host = registry;
  if (host.startsWith('[')) host = host.slice(1, host.indexOf(']'));
  else if (host.includes(':') && host.split(':').length === 2) host = host.split(':')[0]!;
  return host === 'localhost' || host === '::1' || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(host);
}

/** Plain http only where nobody can listen in: loopback, or when the caller said --insecure. */
function baseUrl(ref: OciRef, opts: OciOptions): string {
  const host = ref.registry === 'docker.io' ? 'registry-1.docker.io' : ref.registry;
  const scheme = isLoopbackRegistry(ref.registry) || opts.insecure ? 'http' : 'https';
  return `${scheme}://${host}`;
}

interface Challenge { scheme: string; params: Record<string, string> }

/** Parses `Bearer realm="...",service="...",scope="..."` (quoted values may hold commas). */
export function parseChallenge(header: string): Challenge {
  const m = /^\s*(\w+)\s*(.*)$/s.exec(header);
  const scheme = (m?.[1] ?? '').toLowerCase();
  const params: Record<string, string> = {};
  const re = /(\w+)\s*=\s*(?:"((?:[^"\\]|\\.)*)"|([^,\s]*))/g;
  for (let p = re.exec(m?.[2] ?? ''); p; p = re.exec(m?.[2] ?? '')) {
    params[p[1]!.toLowerCase()] = p[2] !== undefined ? p[2].replace(/\\(.)/g, '$1') : (p[3] ?? '');
  }
  return { scheme, params };
}

/** One conversation with one repository: remembers the credential that worked. */
class Session {
  private authorization: string | undefined;
  private readonly doFetch: typeof fetch;
  readonly base: string;

  constructor(readonly ref: OciRef, private readonly opts: OciOptions, private readonly scope: string) {
    this.base = baseUrl(ref, opts);
    this.doFetch = opts.fetch ?? fetch;
    if (opts.auth?.token) this.authorization = `Bearer ${opts.auth.token}`;
  }

  url(p: string): string {
    return `${this.base}/v2/${this.ref.repository}/${p}`;
  }

  /** A request that answers a 401 challenge once (basic or bearer) and follows redirects by hand. */
  async request(method: string, url: string, init: { headers?: Record<string, string>; body?: Uint8Array } = {}): Promise<Response> {
    for (let attempt = 0; ; attempt++) {
      const res = await this.send(method, url, init);
      if (res.status !== 401) return res;
      const header = res.headers.get('www-authenticate');
      await res.body?.cancel();
      if (attempt > 0 || !header) {
        throw new Error(`${this.ref.registry} refused ${method} ${new URL(url).pathname}: 401 unauthorized${this.opts.auth?.username || this.opts.auth?.token ? ' (check the username and password)' : ' (pass --username and --password-stdin)'}`);
      }
      this.authorization = await this.answer(parseChallenge(header));
    }
  }

  private async send(method: string, url: string, init: { headers?: Record<string, string>; body?: Uint8Array }): Promise<Response> {
    let current = url;
    for (let hops = 0; hops < 5; hops++) {
      const sameOrigin = new URL(current).origin === new URL(this.base).origin;
      const headers: Record<string, string> = { ...init.headers };
      // Credentials never follow a redirect to another origin (blob stores hand out presigned URLs).
      if (this.authorization && sameOrigin) headers.authorization = this.authorization;
      let res: Response;
      try {
        res = await this.doFetch(current, { method, headers, body: init.body as BodyInit | undefined, redirect: 'manual' });
      } catch (err) {
        const cause = (err as { cause?: { code?: string; message?: string } }).cause;
        throw new Error(`cannot reach registry ${this.ref.registry} (${this.base}): ${cause?.code ?? cause?.message ?? (err as Error).message}${this.base.startsWith('https') ? '; a plain-http registry needs --insecure' : ''}`);
      }
      if ([301, 302, 303, 307, 308].includes(res.status) && res.headers.get('location')) {
        current = new URL(res.headers.get('location')!, current).toString();
        await res.body?.cancel();
        if (res.status === 303) method = 'GET';
        continue;
      }
      return res;
    }
    throw new Error(`${this.ref.registry}: too many redirects for ${new URL(url).pathname}`);
  }

  private async answer(ch: Challenge): Promise<string> {
    const { username, password } = this.opts.auth ?? {};
    const basic = username !== undefined ? `Basic ${Buffer.from(`${username}:${password ?? ''}`).toString('base64')}` : undefined;
    if (ch.scheme === 'basic') {
      if (!basic) throw new Error(`${this.ref.registry} requires a login (basic auth): pass --username and --password-stdin`);
      return basic;
    }
    if (ch.scheme !== 'bearer' || !ch.params.realm) {
      throw new Error(`${this.ref.registry} asked for unsupported authentication ${JSON.stringify(ch.scheme)}`);
    }
    const tokenUrl = new URL(ch.params.realm);
    if (ch.params.service) tokenUrl.searchParams.set('service', ch.params.service);
    tokenUrl.searchParams.set('scope', ch.params.scope || this.scope);
    let res: Response;
    try {
      res = await this.doFetch(tokenUrl, { headers: basic ? { authorization: basic } : {} });
    } catch (err) {
      throw new Error(`cannot reach the token service ${tokenUrl.origin} of ${this.ref.registry}: ${(err as Error).message}`);
    }
    if (!res.ok) {
      await res.body?.cancel();
      throw new Error(`token service ${tokenUrl.origin} of ${this.ref.registry} refused: ${res.status} ${res.statusText}${basic ? ' (check the username and password)' : ' (pass --username and --password-stdin)'}`);
    }
    const body = (await res.json().catch(() => ({}))) as { token?: string; access_token?: string };
    const token = body.token ?? body.access_token;
    if (!token) throw new Error(`token service ${tokenUrl.origin} of ${this.ref.registry} answered without a token`);
    return `Bearer ${token}`;
  }
}

async function failure(res: Response, what: string, ref: OciRef): Promise<Error> {
  let detail = '';
  try {
    const body = (await res.json()) as { errors?: { code?: string; message?: string }[] };
    detail = (body.errors ?? []).map((e) => `${e.code ?? ''} ${e.message ?? ''}`.trim()).join('; ');
  } catch {
    /* not a distribution error body */
  }
  return new Error(`${what} on ${ref.registry}/${ref.repository} failed: ${res.status} ${res.statusText}${detail ? ` (${detail})` : ''}`);
}

async function uploadBlob(s: Session, bytes: Uint8Array, digest: string): Promise<void> {
  const head = await s.request('HEAD', s.url(`blobs/${digest}`));
  if (head.status === 200) return; // registries dedupe by digest; nothing to send
  const start = await s.request('POST', s.url('blobs/uploads/'), { headers: { 'content-length': '0' } });
  if (start.status !== 202 || !start.headers.get('location')) throw await failure(start, 'starting a blob upload', s.ref);
  const location = new URL(start.headers.get('location')!, s.url('blobs/uploads/'));
  location.searchParams.set('digest', digest);
  const put = await s.request('PUT', location.toString(), {
    headers: { 'content-type': 'application/octet-stream' },
    body: bytes,
  });
  if (put.status !== 201) throw await failure(put, `uploading blob ${digest}`, s.ref);
  await put.body?.cancel();
}

function isWasm(bytes: Uint8Array): boolean {
  return bytes.length >= 8 && bytes[0] === 0 && bytes[1] === 0x61 && bytes[2] === 0x73 && bytes[3] === 0x6d;
}

function createdTime(opts: OciOptions): string {
  if (opts.created) return opts.created.toISOString();
  const epoch = Number(process.env.SOURCE_DATE_EPOCH);
  return new Date(Number.isFinite(epoch) && process.env.SOURCE_DATE_EPOCH ? epoch * 1000 : Date.now()).toISOString();
}

/** Builds the three documents of the artifact without touching the network (also used by the size benchmark). */
export function buildArtifact(module: Uint8Array, opts: Pick<OciOptions, 'created'> = {}): {
  config: Uint8Array; layer: Uint8Array; manifest: Uint8Array; configDesc: Descriptor; layerDesc: Descriptor;
} {
  if (!isWasm(module)) throw new Error('not a WebAssembly module (missing the \\0asm header)');
  const layerDesc: Descriptor = { mediaType: WASM_LAYER_MEDIA_TYPE, digest: sha256Digest(module), size: module.length };
  const created = createdTime(opts);
  const config = Buffer.from(JSON.stringify({
    created,
    architecture: 'wasm',
    // The CNCF wasm artifact layout: core modules are wasip1, components (header layer bytes 01 00) wasip2.
    os: module[6] === 1 && module[7] === 0 ? 'wasip2' : 'wasip1',
    layerDigests: [layerDesc.digest],
  }));
  const configDesc: Descriptor = { mediaType: WASM_CONFIG_MEDIA_TYPE, digest: sha256Digest(config), size: config.length };
  const manifest = Buffer.from(JSON.stringify({
    schemaVersion: 2,
    mediaType: OCI_MANIFEST_MEDIA_TYPE,
    config: configDesc,
    layers: [layerDesc],
    annotations: { 'org.opencontainers.image.created': created },
  }));
  return { config, layer: module, manifest, configDesc, layerDesc };
}

/** Pushes a module as a wasm OCI artifact and returns the manifest digest to pin it by. */
export async function push(module: Uint8Array, refText: string, opts: OciOptions = {}): Promise<PushResult> {
  const ref = parseRef(refText);
  if (ref.digest) throw new Error(`push needs a tag, not a digest: ${refText}`);
  const art = buildArtifact(module, opts);
  const s = new Session(ref, opts, `repository:${ref.repository}:pull,push`);
  await uploadBlob(s, art.layer, art.layerDesc.digest);
  await uploadBlob(s, art.config, art.configDesc.digest);
  const manifestDigest = sha256Digest(art.manifest);
  const put = await s.request('PUT', s.url(`manifests/${ref.tag}`), {
    headers: { 'content-type': OCI_MANIFEST_MEDIA_TYPE },
    body: art.manifest,
  });
  if (put.status !== 201) throw await failure(put, `putting manifest ${ref.tag}`, ref);
  await put.body?.cancel();
  const echoed = put.headers.get('docker-content-digest');
  if (echoed && echoed !== manifestDigest) {
    throw new Error(`${ref.registry} stored the manifest as ${echoed} but its bytes hash to ${manifestDigest}`);
  }
  return {
    ref: formatRef(ref),
    digest: manifestDigest,
    manifest: { mediaType: OCI_MANIFEST_MEDIA_TYPE, digest: manifestDigest, size: art.manifest.length },
    config: art.configDesc,
    layer: art.layerDesc,
    totalBytes: art.config.length + art.layer.length + art.manifest.length,
  };
}

async function readLimited(res: Response, limit: number, what: string): Promise<Uint8Array> {
  const declared = Number(res.headers.get('content-length'));
  if (Number.isFinite(declared) && declared > limit) {
    await res.body?.cancel();
    throw new Error(`${what} is ${declared} bytes, over the limit of ${limit}`);
  }
  const bytes = new Uint8Array(await res.arrayBuffer());
  if (bytes.length > limit) throw new Error(`${what} is ${bytes.length} bytes, over the limit of ${limit}`);
  return bytes;
}

interface Manifest { mediaType?: string; schemaVersion?: number; config?: Descriptor; layers?: Descriptor[] }

/** Fetches and verifies the manifest; returns it with its digest. */
async function fetchManifest(s: Session): Promise<{ manifest: Manifest; digest: string }> {
  const ref = s.ref;
  const res = await s.request('GET', s.url(`manifests/${ref.digest ?? ref.tag}`), {
    headers: { accept: `${OCI_MANIFEST_MEDIA_TYPE}, ${OCI_INDEX_MEDIA_TYPE};q=0.5` },
  });
  if (res.status === 404) {
    await res.body?.cancel();
    throw new Error(`${formatRef(ref)} not found in the registry`);
  }
  if (!res.ok) throw await failure(res, `getting manifest ${ref.digest ?? ref.tag}`, ref);
  const bytes = await readLimited(res, MAX_MANIFEST_BYTES, 'manifest');
  const digest = sha256Digest(bytes);
  const expected = ref.digest ?? res.headers.get('docker-content-digest') ?? undefined;
  if (expected && expected !== digest) {
    throw new Error(`manifest of ${formatRef(ref)} failed digest verification: expected ${expected}, got ${digest}; the registry sent corrupted or tampered data`);
  }
  let manifest: Manifest;
  try {
    manifest = JSON.parse(Buffer.from(bytes).toString('utf8')) as Manifest;
  } catch {
    throw new Error(`manifest of ${formatRef(ref)} is not JSON`);
  }
  const mediaType = manifest.mediaType ?? res.headers.get('content-type') ?? '';
  if (mediaType === OCI_INDEX_MEDIA_TYPE || mediaType.includes('manifest.list')) {
    throw new Error(`${formatRef(ref)} is an image index (a multi-platform container image), not a wasm artifact`);
  }
  if (manifest.schemaVersion !== 2 || !manifest.config || !Array.isArray(manifest.layers)) {
    throw new Error(`${formatRef(ref)} has no OCI image manifest (schemaVersion 2 with config and layers)`);
  }
  return { manifest, digest };
}

function pickWasmLayer(manifest: Manifest, ref: OciRef): Descriptor {
  const layers = manifest.layers!.filter((l) => l.mediaType === WASM_LAYER_MEDIA_TYPE || LEGACY_WASM_LAYER_TYPES.includes(l.mediaType));
  if (layers.length !== 1) {
    const types = manifest.layers!.map((l) => l.mediaType).join(', ') || 'none';
    throw new Error(`${formatRef(ref)} is not a single-module wasm artifact: expected one ${WASM_LAYER_MEDIA_TYPE} layer, found layers [${types}] (config ${manifest.config!.mediaType})`);
  }
  const layer = layers[0]!;
  if (!DIGEST_RE.test(layer.digest)) throw new Error(`${formatRef(ref)}: layer digest ${layer.digest} is not a sha256 digest`);
  return layer;
}

/** The module layer's bytes, verified against the digest and checked to be wasm. */
async function fetchModuleLayer(s: Session, desc: Descriptor, limit: number): Promise<Uint8Array> {
  if (desc.size > limit) throw new Error(`module layer of ${formatRef(s.ref)} is ${desc.size} bytes, over the limit of ${limit}`);
  const res = await s.request('GET', s.url(`blobs/${desc.digest}`));
  if (!res.ok) throw await failure(res, `getting blob ${desc.digest}`, s.ref);
  const bytes = await readLimited(res, limit, `blob ${desc.digest}`);
  const got = sha256Digest(bytes);
  if (got !== desc.digest || bytes.length !== desc.size) {
    throw new Error(`blob ${desc.digest} of ${formatRef(s.ref)} failed digest verification: got ${got} (${bytes.length} bytes, manifest says ${desc.size}); the registry's copy is corrupted or tampered with, refusing to use it`);
  }
  if (!isWasm(bytes)) throw new Error(`layer of ${formatRef(s.ref)} is not a WebAssembly module`);
  return bytes;
}

/** Pulls the module of a wasm artifact; every byte is verified against its digest. */
export async function pull(refText: string, opts: OciOptions = {}): Promise<PullResult> {
  const ref = parseRef(refText);
  const s = new Session(ref, opts, `repository:${ref.repository}:pull`);
  const { manifest, digest } = await fetchManifest(s);
  const layer = pickWasmLayer(manifest, ref);
  const bytes = await fetchModuleLayer(s, layer, opts.maxBytes ?? DEFAULT_MAX_MODULE_BYTES);
  return { bytes, digest: layer.digest, manifestDigest: digest };
}

// ---- module cache and manifest `module:` resolution ----

function cachePath(dataDir: string, digest: string): string {
  return path.join(dataDir, 'oci', 'blobs', 'sha256', digest.slice('sha256:'.length));
}

/** Per manifest digest, the layer digest it names: lets a pinned ref resolve without the network. */
function pinPath(dataDir: string, manifestDigest: string): string {
  return path.join(dataDir, 'oci', 'manifests', manifestDigest.slice('sha256:'.length));
}

function readCached(dataDir: string, digest: string): Uint8Array | undefined {
  const file = cachePath(dataDir, digest);
  let bytes: Uint8Array;
  try {
    bytes = fs.readFileSync(file);
  } catch {
    return undefined;
  }
  // A cache entry that no longer hashes right is dropped, not trusted.
  if (sha256Digest(bytes) !== digest) {
    fs.rmSync(file, { force: true });
    return undefined;
  }
  return bytes;
}

function writeCached(dataDir: string, digest: string, bytes: Uint8Array): string {
  const file = cachePath(dataDir, digest);
  fs.mkdirSync(path.dirname(file), { recursive: true });
  const tmp = `${file}.${process.pid}.${Date.now()}.tmp`;
  fs.writeFileSync(tmp, bytes);
  fs.renameSync(tmp, file);
  return file;
}

export interface ResolvedModule {
  bytes: Uint8Array;
  /** sha256 of the module bytes. */
  digest: string;
  /** Where the bytes came from: a file path, or the oci ref pinned by manifest digest. */
  source: string;
  /** True when an oci:// module was served from <dataDir>/oci without downloading the layer. */
  cached: boolean;
}

export interface ResolveOptions extends OciOptions {
  /** The app's data dir; oci modules are cached under <dataDir>/oci/blobs/sha256/. */
  dataDir: string;
  /** Relative file paths resolve against this (the manifest's folder). */
  baseDir?: string;
}

/**
 * Credentials from the environment: for `module: oci://...` (never from the manifest file) and for
 * `featherweight oci` without --username. A token wins over a username.
 */
export function envAuth(): OciAuth | undefined {
  const username = process.env.FEATHERWEIGHT_OCI_USERNAME;
  const password = process.env.FEATHERWEIGHT_OCI_PASSWORD;
  const token = process.env.FEATHERWEIGHT_OCI_TOKEN;
  if (token) return { token };
  if (username) return { username, password: password ?? '' };
  return undefined;
}

/**
 * Resolves a manifest's `module:` value to bytes: `oci://<ref>` pulls (once per digest) into
 * the cache; anything else is a file path. A ref pinned by digest whose manifest is cached
 * resolves without the network.
 */
export async function resolveModuleRef(moduleRef: string, opts: ResolveOptions): Promise<ResolvedModule> {
  if (!moduleRef.startsWith('oci://')) {
    const file = path.resolve(opts.baseDir ?? process.cwd(), moduleRef);
    let bytes: Uint8Array;
    try {
      bytes = fs.readFileSync(file);
    } catch (err) {
      throw new Error(`cannot read module ${moduleRef} (${file}): ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
    }
    return { bytes, digest: sha256Digest(bytes), source: file, cached: false };
  }
  const ref = parseRef(moduleRef);
  const pinnedFile = ref.digest ? pinPath(opts.dataDir, ref.digest) : undefined;
  if (pinnedFile && fs.existsSync(pinnedFile)) {
    const layerDigest = fs.readFileSync(pinnedFile, 'utf8').trim();
    const bytes = readCached(opts.dataDir, layerDigest);
    if (bytes) return { bytes, digest: layerDigest, source: formatRef(ref), cached: true };
  }
  const o: OciOptions = { ...opts, auth: opts.auth ?? envAuth() };
  const s = new Session(ref, o, `repository:${ref.repository}:pull`);
  const { manifest, digest: manifestDigest } = await fetchManifest(s);
  const layer = pickWasmLayer(manifest, ref);
  const pinned = formatRef({ ...ref, tag: undefined, digest: manifestDigest });
  let bytes = readCached(opts.dataDir, layer.digest);
  const cached = bytes !== undefined;
  if (!bytes) {
    bytes = await fetchModuleLayer(s, layer, o.maxBytes ?? DEFAULT_MAX_MODULE_BYTES);
    writeCached(opts.dataDir, layer.digest, bytes);
  }
  const mfile = pinPath(opts.dataDir, manifestDigest);
  fs.mkdirSync(path.dirname(mfile), { recursive: true });
  fs.writeFileSync(mfile, `${layer.digest}\n`);
  return { bytes, digest: layer.digest, source: pinned, cached };
}
