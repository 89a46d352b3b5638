#!/usr/bin/env bash
# make lint (and the start of make test): the static checks, fast ones
# first. gofmt -l must print nothing; go vet and staticcheck run on both
# builds: the default one and -tags noevloop, which leaves out the Linux
# event loops (internal/evloop) and so compiles exactly the files other
# systems get. A GOOS=darwin vet of the packages that do not need libvips
# (cgo cannot cross-compile) also covers the other _linux.go files'
# counterparts (geo's mapfile, bench/paced, the test helpers).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/deps.sh >/dev/null
gobin="$(go env GOBIN)"; [ -n "$gobin" ] || gobin="$(go env GOPATH)/bin"

step() { echo "lint: $*" >&2; }

step "gofmt -l"
unformatted=$(gofmt -l .)
if [ -n "$unformatted" ]; then
  echo "lint: not gofmt'ed (run gofmt -w):" >&2
  echo "$unformatted" >&2
  exit 1
fi

step "go vet"
go vet ./...
step "go vet -tags noevloop"
go vet -tags noevloop ./...

# Packages whose code and tests do not reach bimg (libvips, cgo): they must
# build for a system without the event loops, epoll or Pdeathsig.
darwin=$(CGO_ENABLED=0 GOOS=darwin go list -e -test -f '{{.ImportPath}}|{{join .Deps " "}}' ./... |
  awk -F'|' '{ split($1, a, " "); p = a[1]; sub(/(_test|\.test)$/, "", p); all[p] = 1
               if ($2 ~ /(^| )github\.com\/h2non\/bimg( |$)/) cgo[p] = 1 }
             END { for (p in all) if (!(p in cgo)) print p }' | sort)
step "GOOS=darwin CGO_ENABLED=0 go vet ($(echo "$darwin" | wc -l) packages without libvips)"
# shellcheck disable=SC2086 # one package per word
CGO_ENABLED=0 GOOS=darwin go vet $darwin

# One run over both builds, merged: code only one build uses (the loops'
# helpers in internal/evloop) is reported unused only if no build uses it;
# every other finding is tagged with the build it came from.
step "staticcheck (default, -tags noevloop)"
printf 'linux: GOOS=linux\nnoevloop: GOOS=linux -tags=noevloop\n' | "$gobin/staticcheck" -matrix ./...
# deploy/ is its own module (helm, k8s.io): go vet ./... above skips it.
step "go vet, staticcheck (deploy module)"
(cd deploy && go vet ./... && "$gobin/staticcheck" ./...)
# packaging/dockerfile-test too (buildkit's Dockerfile parser).
step "go vet, staticcheck (packaging/dockerfile-test module)"
(cd packaging/dockerfile-test && go vet ./... && "$gobin/staticcheck" ./...)
step "ok"
