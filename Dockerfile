# Build a static reqfleet binary, then ship it alone in a small non-root image.
FROM golang:1.26 AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
RUN CGO_ENABLED=0 go build -trimpath -ldflags="-s -w" -o /out/reqfleet ./cmd/reqfleet

FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/reqfleet /usr/local/bin/reqfleet
COPY examples /examples
USER nonroot:nonroot
ENTRYPOINT ["/usr/local/bin/reqfleet"]
