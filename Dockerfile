# featherweight host image: the Node runtime, the compiled CLI and the bundled guests.
# Build:  docker build -t featherweight:dev .
# Run:    docker run --read-only -v fw-data:/data -p 8080:8080 featherweight:dev up /etc/featherweight/featherweight.yaml

# ---- build: compile TypeScript and the guests, then keep only production dependencies ----
FROM node:20-bookworm AS build
WORKDIR /src
COPY package.json package-lock.json ./
# Dependencies first (cached while only sources change); scripts run later, once sources exist.
RUN npm ci --ignore-scripts
COPY . .
# Native addons (better-sqlite3, protobufjs) need their install scripts; then tsc + guests.
RUN npm rebuild && npm run build && npm prune --omit=dev --ignore-scripts

# ---- runtime: node:20-slim, non-root, nothing writable but /data and /tmp ----
FROM node:20-slim
ENV NODE_ENV=production
WORKDIR /app
COPY --from=build /src/package.json ./
COPY --from=build /src/node_modules ./node_modules
COPY --from=build /src/dist ./dist
COPY --from=build /src/bin ./bin
COPY --from=build /src/proto ./proto
COPY --from=build /src/guests/build ./guests/build
COPY --from=build /src/dashboard ./dashboard
COPY --from=build /src/examples ./examples
RUN groupadd --system --gid 10001 featherweight \
 && useradd --system --uid 10001 --gid 10001 --home-dir /data --no-create-home featherweight \
 && mkdir -p /data /etc/featherweight \
 && chown 10001:10001 /data
USER 10001:10001
VOLUME ["/data"]
# 8080 HTTP API, /healthz, /metrics, dashboard; 2525 SMTP trigger; 9090 KEDA external scaler (gRPC).
EXPOSE 8080 2525 9090
HEALTHCHECK --interval=10s --timeout=3s --start-period=10s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:8080/healthz').then(r=>process.exit(r.ok?0:1),()=>process.exit(1))"]
ENTRYPOINT ["node", "/app/bin/featherweight.js"]
CMD ["up", "/etc/featherweight/featherweight.yaml"]
