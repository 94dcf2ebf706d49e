// Package deploy has no code: its tests check the repository's Dockerfile
// and docker-compose.yml on machines without a Docker engine. The compose
// file is loaded and validated with compose-go (services, build contexts,
// environment, depends_on, healthchecks, ports), each reqfleet command in
// it is run against the real binary to check its flags, and the
// Dockerfile's go build line is run as written to check that it makes a
// static binary.
package deploy
