# Build a static reqfleet binary, then ship it alone in a small non-root image.
#   docker build -t reqfleet .
#   docker run --rm reqfleet help
# deploy/deploy_test.go runs this file's go build line and checks that the
# binary is static.
FROM golang:1.26 AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
RUN CGO_ENABLED=0 go build -trimpath -buildvcs=false -ldflags="-s -w" -o /out/reqfleet ./cmd/reqfleet

# distroless static: CA certificates and tzdata, no shell, uid 65532.
FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/reqfleet /usr/local/bin/reqfleet
COPY examples /examples
USER nonroot:nonroot
# serve (API, /metrics, web UI) and worker --metrics-addr
EXPOSE 8080 9100
ENTRYPOINT ["/usr/local/bin/reqfleet"]
CMD ["help"]
