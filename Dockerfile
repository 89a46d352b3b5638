# edgegate container image: a Debian bookworm build stage with the libvips
# headers, then bookworm-slim with the libvips runtime and the CA roots
# only (the same packages the .deb depends on; packaging/dockerfile-test
# checks that, and the rest of this file's rules).
#
#   docker build --build-arg VERSION="$(git describe --tags --always --dirty)" \
#     --build-arg COMMIT="$(git rev-parse HEAD)" -t edgegate:dev .
#   docker run --read-only --tmpfs /tmp -p 8080:8080 \
#     -v "$PWD/my-config:/etc/edgegate:ro" --env-file edgegate.env edgegate:dev
#
# It runs as uid 65532 and needs no writable path but /tmp (libvips'
# scratch files): with --read-only give it a tmpfs (Docker's is noexec;
# liborc, libvips' code generator, then keeps its code in memory). ACME
# certificates (tls.acme.storage.dir: /var/lib/edgegate/acme) need a volume
# on /var/lib/edgegate. The admin listener stays on the container's
# loopback (127.0.0.1:9090, for HEALTHCHECK); publish it only after setting
# admin_listen, admin.hosts and an admin token (SECURITY.md).

# GO_VERSION is the Go toolchain of the build stage (go.mod's go line or newer).
ARG GO_VERSION=1.26.8

FROM golang:${GO_VERSION}-bookworm AS build
RUN apt-get update \
 && apt-get install -y --no-install-recommends libvips-dev pkg-config \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
ARG VERSION=dev
ARG COMMIT=unknown
RUN CGO_ENABLED=1 go build -trimpath \
      -ldflags "-s -w -X main.version=${VERSION} -X main.commit=${COMMIT}" \
      -o /out/edgegate ./cmd/edgegate \
 && /out/edgegate check --config packaging/etc/edgegate.yaml

FROM debian:bookworm-slim
RUN apt-get update \
 && apt-get install -y --no-install-recommends libvips42 ca-certificates \
 && rm -rf /var/lib/apt/lists/* \
 && mkdir -p /var/lib/edgegate \
 && chown 65532:65532 /var/lib/edgegate
COPY --from=build /out/edgegate /usr/bin/edgegate
COPY packaging/etc/edgegate.yaml packaging/etc/rules.yaml /etc/edgegate/
USER 65532:65532
WORKDIR /var/lib/edgegate
EXPOSE 8080
HEALTHCHECK --interval=10s --timeout=3s --start-period=5s --retries=3 \
  CMD ["/usr/bin/edgegate", "health", "--config", "/etc/edgegate/edgegate.yaml"]
STOPSIGNAL SIGTERM
ENTRYPOINT ["/usr/bin/edgegate"]
CMD ["serve", "--config", "/etc/edgegate/edgegate.yaml"]
