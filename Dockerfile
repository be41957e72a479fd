# syntax=docker/dockerfile:1
# The rush image: one static binary, every target (`rush -target=<name>`,
# `rush migrate`). Build: docker build -t ghcr.io/bookingrush/rush:<version> .

FROM golang:1.26 AS build
WORKDIR /src
# The root module builds on its own (gen is a replace of ./gen); GOWORK=off keeps
# the bench module, which is not in the context, out of the build.
ENV CGO_ENABLED=0 GOWORK=off GOFLAGS=-mod=readonly
# Dependencies first, so source edits reuse the module cache layer.
COPY go.mod go.sum ./
COPY gen/go.mod gen/go.sum ./gen/
RUN --mount=type=cache,target=/go/pkg/mod go mod download
COPY . .
RUN --mount=type=cache,target=/go/pkg/mod --mount=type=cache,target=/root/.cache/go-build \
    go build -trimpath -ldflags="-s -w" -o /rush ./cmd/rush

# distroless static: no shell, no package manager; nonroot is uid/gid 65532.
FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /rush /rush
USER 65532:65532
# Edge, the Connect ports (server.Ports: auth 9081 ... gate 9089) and the
# metrics port; the chart picks one per target.
EXPOSE 8080 9081 9082 9083 9084 9085 9086 9087 9088 9089 9100
ENTRYPOINT ["/rush"]
