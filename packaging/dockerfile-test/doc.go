// Package dockerfiletest checks the repository's Dockerfile and
// .dockerignore without a container engine: it parses the Dockerfile with
// buildkit's own parser and linter (the rules `docker build --check` runs
// at parse time), then checks edgegate's rules for the image (multi-stage,
// pinned bases, non-root numeric USER, HEALTHCHECK through the binary,
// STOPSIGNAL, cleaned apt lists, runtime packages equal to the .deb's
// dependencies) and that .dockerignore keeps every file the build needs.
//
// It is its own module so that buildkit stays out of the gateway's go.mod;
// scripts/test.sh runs it: (cd packaging/dockerfile-test && go test ./...).
package dockerfiletest
