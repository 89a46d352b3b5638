# edgegate: `make run` starts the demo, `make test` runs every test.
.PHONY: run test build vet clean

run:
	bash scripts/run.sh

test:
	bash scripts/test.sh

build:
	go build -o bin/edgegate ./cmd/edgegate

vet:
	go vet ./...

clean:
	rm -rf bin
