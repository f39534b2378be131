// Package stacktest has no code of its own: its tests check the files at the repository root that
// describe how the service is built, started and documented (docker-compose.yml, Dockerfile,
// README.md) against the code, without needing Docker.
package stacktest
