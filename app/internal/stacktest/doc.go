// Package stacktest has no code of its own: its tests check the files at the repository root that
// describe how the service is built, started and documented (docker-compose.yml, Dockerfile,
// README.md) against the code, and the compose stack's wiring against the configuration files it
// mounts (observability/nginx.conf and tempo.yaml, prometheus/prometheus.yml, loki/loki.yaml,
// Grafana's provisioning), all without Docker.
package stacktest
