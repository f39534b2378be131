# product-service image: a static Go binary on a small, pinned Alpine base, run as a non-root user.
#
#   docker build -t product-service-lab/product-service:dev .
#   docker run --rm -e DATABASE_URL=... -p 8080:8080 product-service-lab/product-service:dev
#
# Every base image is pinned to a version; stack_test.go fails on a floating tag or :latest.

# --- build -------------------------------------------------------------------------------------
# The builder runs on the build machine's platform and cross-compiles for the target one, so a
# multi-platform build (docker buildx --platform linux/amd64,linux/arm64) needs no emulation.
FROM --platform=$BUILDPLATFORM golang:1.26.8-bookworm AS build
ARG TARGETOS
ARG TARGETARCH
# The release shown in build_info and the logs (docker build --build-arg VERSION=v1.2.3).
ARG VERSION=dev
WORKDIR /src

# Modules first, in their own layer: it is rebuilt only when go.mod or go.sum change.
COPY go.mod go.sum ./
RUN go mod download && go mod verify

# Only the application tree is needed to build the binary (migrations are embedded in it).
COPY app ./app
RUN --mount=type=cache,target=/root/.cache/go-build \
    CGO_ENABLED=0 GOOS=$TARGETOS GOARCH=$TARGETARCH \
    go build -trimpath -ldflags="-s -w -X main.version=${VERSION}" -o /out/product-service ./app/cmd/product-service

# --- run ---------------------------------------------------------------------------------------
FROM alpine:3.22.2
# ca-certificates for TLS to managed databases; a fixed, unprivileged uid/gid that owns nothing.
RUN apk add --no-cache ca-certificates \
 && addgroup -S -g 10001 app \
 && adduser -S -D -H -u 10001 -G app -s /sbin/nologin app
COPY --from=build /out/product-service /usr/local/bin/product-service

# Numeric, so orchestrators can verify runAsNonRoot without reading /etc/passwd.
USER 10001:10001
EXPOSE 8080
# The binary checks its own /health on HTTP_ADDR: no curl needed, and it would work on a shell-less base.
HEALTHCHECK --interval=10s --timeout=3s --start-period=10s --retries=3 \
    CMD ["product-service", "healthcheck"]
ENTRYPOINT ["product-service"]
CMD ["serve"]
