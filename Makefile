# edgegate: `make run` starts the demo, `make test` runs every test.
.PHONY: run test lint build vet clean bench bench-route bench-images bench-vipsthumb bench-images2 bench-tls package

run:
	bash scripts/run.sh

test:
	bash scripts/test.sh

# The static checks alone (make test runs them first): gofmt, go vet and
# staticcheck, with and without the event loops (-tags noevloop).
lint:
	bash scripts/lint.sh

# The binary, stamped with git describe, the commit and the build time
# (scripts/ldflags.sh; edgegate version prints them).
build:
	go build -ldflags "$$(bash scripts/ldflags.sh)" -o bin/edgegate ./cmd/edgegate

vet:
	go vet ./...

# The .deb (nfpm): binary, systemd unit, /etc/edgegate/; into dist/.
# docs/install-package.md; make test installs and runs it (scripts/package-test.sh).
package:
	bash scripts/package.sh dist

clean:
	rm -rf bin dist

# Route path side by side with nginx + geoip2 (wrk, alternating rounds).
bench-route:
	bash scripts/bench-route.sh 10s 3

# Image path: bimg direct vs edgegate (cache off), AVIF vs JPEG, cache hits.
bench-images:
	bash scripts/bench-images.sh 10s 2

# Cold render ceiling: vipsthumbnail as N processes vs edgegate (cache off) vs bimg, CPU per image.
bench-vipsthumb:
	bash scripts/bench-vipsthumb.sh 10s 3

# Inputs: animated GIF -> WebP vs the vips CLI as N processes; HEIC -> 1280 px WebP time and peak RSS.
bench-images2:
	bash scripts/bench-images2.sh 10s 2

# HTTPS (HTTP/1.1, handshakes, HTTP/2, cache hits) side by side with nginx on TLS.
bench-tls:
	bash scripts/bench-tls.sh 10s 2

# Every comparison in one sitting; writes the ratio table into BENCHMARKS.md.
bench:
	bash scripts/bench.sh 10s 2
