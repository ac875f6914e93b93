# dchat-network: common tasks. `make help` lists them.
GO        ?= go
export GOTOOLCHAIN := local
export GOFLAGS    := -buildvcs=false
STATICCHECK := honnef.co/go/tools/cmd/staticcheck@v0.8.2
FUZZTIME  ?= 200000x
BENCHTIME ?= 1s
OUT       ?= out

.PHONY: help build test bench fuzz lint scenarios reports clean

help:
	@grep -E '^[a-z]+:.*## ' $(MAKEFILE_LIST) | sed 's/:.*## /\t/'

build: ## build dchat-sim (and later dchat-node) into bin/
	$(GO) build -o bin/ ./cmd/...

test: ## the CI test run: vet, then every test (the README's test command)
	$(GO) vet ./...
	$(GO) test ./...

bench: ## every benchmark (engine, network, codec, identity)
	$(GO) test -run '^$$' -bench . -benchmem -benchtime $(BENCHTIME) ./...

fuzz: ## run each fuzz target for FUZZTIME (a count: duration-based runs can fail spuriously at the deadline in Go 1.26)
	@set -e; for pkg in $$($(GO) list ./...); do \
	  for f in $$($(GO) test -list '^Fuzz' $$pkg | grep '^Fuzz' || true); do \
	    echo "== $$pkg $$f"; $(GO) test -run '^$$' -fuzz "^$$f$$" -fuzztime $(FUZZTIME) $$pkg; \
	  done; \
	done

lint: ## vet, staticcheck and the layering test
	$(GO) vet ./...
	$(GO) run $(STATICCHECK) ./...
	$(GO) test -count=1 ./internal/archtest/

scenarios: build ## run every scenario file in scenarios/ into $(OUT)/
	@set -e; for f in scenarios/*.yaml; do \
	  n=$$(basename $$f .yaml); echo "== $$n"; ./bin/dchat-sim run $$f --quiet --out $(OUT)/$$n; \
	done

reports: build ## redraw the plots and report.html of every run folder in $(OUT)/ (make scenarios writes them)
	@set -e; for d in $(OUT)/*/; do \
	  if [ -f "$$d/summary.json" ]; then ./bin/dchat-sim plot "$$d"; fi; \
	done

clean:
	rm -rf bin $(OUT)
