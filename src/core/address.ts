/** A host and a port, as every listen and broker address of the manifest and the CLI is written. */
export interface HostPort {
  host: string;
  port: number;
}

export interface HostPortOptions {
  /** ":8080" and "8080" are accepted and listen on `defaultHost` (listen addresses); a server to dial needs its host. */
  hostOptional?: boolean;
  /** The host of ":8080" or "8080"; 127.0.0.1 (loopback) unless said. */
  defaultHost?: string;
  /** Lowest port accepted: 0 (pick a free one) for a listener, 1 for a server to dial. */
  minPort?: number;
}

/**
 * "127.0.0.1:8080", "[::1]:8080" (and, with hostOptional, ":8080" or "8080") -> host and port; null
 * when the value is not one, so each caller says what to write in its own words. The host and its
 * colon go together: "127.0.0.18080" is a typo, not host 127.0.0.1808 port 0.
 */
export function parseHostPort(value: string, o: HostPortOptions = {}): HostPort | null {
  const m = /^(?:(?:\[([^\]]+)\]|([^:[\]]*)):)?(\d{1,5})$/.exec(value.trim());
  if (!m) return null;
  const host = m[1] ?? m[2];
  if (!host && !o.hostOptional) return null;
  const port = Number(m[3]);
  if (port > 65535 || port < (o.minPort ?? 0)) return null;
  return { host: host || (o.defaultHost ?? '127.0.0.1'), port };
}

/** host:port again, an IPv6 host in brackets (what net and gRPC bind to). */
export function formatHostPort({ host, port }: HostPort): string {
  return host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`;
}
