# Booking Rush. `make help` lists the targets.
SHELL := /bin/bash
.DEFAULT_GOAL := help

GO        ?= go
BIN       := $(CURDIR)/bin
TOOLS     := $(BIN)/tools
export PATH := $(TOOLS):$(PATH)

# Pinned tool versions; `make tools` installs them into bin/tools.
BUF_VERSION                  := v1.75.0
PROTOC_GEN_GO_VERSION        := v1.36.12
PROTOC_GEN_CONNECT_GO_VERSION := v1.21.1
HELM_VERSION                 := v3.22.0
GHZ_VERSION                  := v0.120.0
GOLANGCI_LINT_VERSION        := v2.15.0

# Packages of every module in the workspace (go.work), and the modules.
PKGS    := ./... ./gen/... ./bench/...
MODULES := . gen bench

# The web app (web/, Next.js): npm packages pinned by web/package-lock.json.
WEB       := web
NPM       ?= npm
WEB_DEPS  := $(WEB)/node_modules/.package-lock.json
WEB_SRC   := $(shell find $(WEB)/src $(WEB)/public -type f 2>/dev/null) $(addprefix $(WEB)/,next.config.ts postcss.config.mjs tsconfig.json package-lock.json)
WEB_BUILT := $(WEB)/.next/standalone/server.js
export NEXT_TELEMETRY_DISABLED := 1

.PHONY: help
help: ## list the targets
	@awk 'BEGIN {FS = ":.*## "} /^[a-zA-Z_-]+:.*## / {printf "  \033[36m%-14s\033[0m %s\n", $$1, $$2}' $(MAKEFILE_LIST)

.PHONY: build
build: ## build bin/rush
	$(GO) build -o $(BIN)/rush ./cmd/rush

.PHONY: run
run: build web-build ## run the whole mesh (rush -target=all, edge on :8080, embedded Kafka) and the web app on http://localhost:3000; mails go to the dev mailbox (:9100/dev/mail) unless RUSH_SMTP_ADDR is set
	$(WEB)/scripts/run.sh

.PHONY: test
test: lint checkgenerate helm-check web-check ## everything CI runs: lint, generated code check, all Go tests with -race, the web app's checks and e2e tests
	$(GO) test -race -count=1 -timeout 20m $(PKGS)
	$(MAKE) web-e2e

$(WEB_DEPS): $(WEB)/package.json $(WEB)/package-lock.json
	cd $(WEB) && $(NPM) ci --no-audit --no-fund
	@touch $@

.PHONY: web-deps
web-deps: $(WEB_DEPS) ## install the web app's npm packages (npm ci) when package-lock.json changed

$(WEB_BUILT): $(WEB_DEPS) $(WEB_SRC)
	cd $(WEB) && $(NPM) run build

.PHONY: web-build
web-build: $(WEB_BUILT) ## build the web app (Next.js standalone server in web/.next/standalone) when its sources changed

.PHONY: web-check
web-check: $(WEB_DEPS) ## the web app's type check, lint (ESLint) and unit tests (Vitest)
	cd $(WEB) && $(NPM) run typecheck && $(NPM) run lint && $(NPM) run test:unit

.PHONY: web-e2e
web-e2e: build web-build ## the web app's end-to-end tests: headless Chromium (/usr/bin/chromium) against a real rush -target=all
	cd $(WEB) && $(NPM) run test:e2e

.PHONY: web-screenshots
web-screenshots: build web-build ## run the e2e tests and replace the README's screenshots in web/docs/screenshots
	cd $(WEB) && E2E_SCREENSHOTS=1 $(NPM) run test:e2e

FUZZTIME        ?= 1m
RANDOM_DURATION ?= 2m

.PHONY: fuzz
# A fuzz run that ends in "context deadline exceeded" without writing a
# failing input is Go's coordinator racing the -fuzztime deadline
# (golang/go#75804, fixed in Go 1.27), not a finding: it is reported and the
# suite goes on. Any other failure stops it.
fuzz: ## the fuzz suite, longer than in test: each native fuzz target of the edge and of authn (the token's claims) for FUZZTIME (1m), then TestRandomRequests for RANDOM_DURATION (2m)
	@out=$$(mktemp); trap 'rm -f $$out' EXIT; \
	for p in ./edge ./services/platform/authn; do \
	  for f in $$($(GO) test $$p -list '^Fuzz' | grep '^Fuzz'); do \
	    echo "== $$p $$f"; \
	    $(GO) test $$p -run '^$$' -fuzz "^$$f$$" -fuzztime $(FUZZTIME) 2>&1 | tee $$out; \
	    if [ $${PIPESTATUS[0]} -ne 0 ]; then \
	      if grep -q 'context deadline exceeded' $$out && ! grep -q 'Failing input written' $$out; then \
	        echo "== $$f: stopped by Go's fuzz deadline race (golang/go#75804), no failing input: not a finding"; \
	      else exit 1; fi; \
	    fi; \
	  done; \
	done
	$(GO) test -race -count=1 -timeout 0 ./edge -run '^TestRandomRequests$$' -v -random.duration=$(RANDOM_DURATION)

.PHONY: lint
# go vet's analyzers run inside golangci-lint (its govet linter, on every
# package but the generated gen/): a separate go vet compiled every package
# once more, ~3.5 min of CI on a fresh machine.
lint: tools ## gofmt, golangci-lint (.golangci.yml: go vet's analyzers and more), go mod tidy -diff of every module, buf lint
	@out=$$(gofmt -l $$(git ls-files '*.go' | grep -v '^gen/')); \
	  if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi
	golangci-lint run $(PKGS)
	@for m in $(MODULES); do (cd $$m && $(GO) mod tidy -diff) || { echo "go.mod/go.sum of $$m are not tidy: cd $$m && go mod tidy"; exit 1; }; done
	buf lint

.PHONY: generate
generate: tools web-deps ## regenerate gen/ and web/src/gen from proto/ (and schema/migrations/atlas.sum)
	find gen -name '*.pb.go' -delete -o -name '*.connect.go' -delete
	buf generate
	rm -rf $(WEB)/src/gen
	buf generate --template buf.gen.web.yaml
	$(GO) generate ./schema/...

.PHONY: checkgenerate
checkgenerate: generate ## fail when generated code differs from what is committed
	@test -z "$$(git status --porcelain -- gen $(WEB)/src/gen schema/migrations)" || \
	  { echo "generated code is stale; run make generate and commit:"; git status --porcelain -- gen $(WEB)/src/gen schema/migrations; git diff --stat -- gen $(WEB)/src/gen schema/migrations; exit 1; }

.PHONY: helm-check
helm-check: $(TOOLS)/helm ## helm lint and helm template of deploy/k8s/rush with default and production values
	helm lint --strict deploy/k8s/rush
	helm lint --strict deploy/k8s/rush -f deploy/k8s/rush/values-production.yaml
	helm template rush deploy/k8s/rush >/dev/null
	helm template rush deploy/k8s/rush -f deploy/k8s/rush/values-production.yaml >/dev/null

GEN_VERSION ?=

.PHONY: gen-tag
gen-tag: checkgenerate ## tag the client library for importers: make gen-tag GEN_VERSION=v0.2.0 (annotated tag gen/v0.2.0 on HEAD)
	@[[ "$(GEN_VERSION)" =~ ^v0\.[0-9]+\.[0-9]+$$ ]] || { echo "GEN_VERSION must be v0.MINOR.PATCH (README.md, Integrators)"; exit 1; }
	@test -z "$$(git status --porcelain)" || { echo "commit first: the tag names HEAD"; exit 1; }
	git tag -a gen/$(GEN_VERSION) -m "gen $(GEN_VERSION): the Go client library of the contracts"
	@echo "push it with: git push origin gen/$(GEN_VERSION)"

.PHONY: breaking
breaking: tools ## buf breaking against main
	buf breaking --against '.git#branch=main'

.PHONY: bench
bench: build ## flash-sale benchmark (see bench/README.md); BENCH_FLAGS="-scenario=..." for more
	$(GO) run ./bench/cmd/rushbench $(BENCH_FLAGS)

.PHONY: ghz
ghz: $(TOOLS)/ghz ## install the pinned ghz command (for configs of rushbench ghz-config; the ghz scenario runs ghz's runner itself)

.PHONY: tools
tools: $(TOOLS)/buf $(TOOLS)/protoc-gen-go $(TOOLS)/protoc-gen-connect-go $(TOOLS)/helm $(TOOLS)/golangci-lint ## install pinned tools into bin/tools

$(TOOLS)/buf:
	GOBIN=$(TOOLS) GOWORK=off $(GO) install github.com/bufbuild/buf/cmd/buf@$(BUF_VERSION)
$(TOOLS)/protoc-gen-go:
	GOBIN=$(TOOLS) GOWORK=off $(GO) install google.golang.org/protobuf/cmd/protoc-gen-go@$(PROTOC_GEN_GO_VERSION)
$(TOOLS)/protoc-gen-connect-go:
	GOBIN=$(TOOLS) GOWORK=off $(GO) install connectrpc.com/connect/cmd/protoc-gen-connect-go@$(PROTOC_GEN_CONNECT_GO_VERSION)
$(TOOLS)/helm:
	GOBIN=$(TOOLS) GOWORK=off $(GO) install helm.sh/helm/v3/cmd/helm@$(HELM_VERSION)
$(TOOLS)/golangci-lint:
	GOBIN=$(TOOLS) GOWORK=off $(GO) install github.com/golangci/golangci-lint/v2/cmd/golangci-lint@$(GOLANGCI_LINT_VERSION)
$(TOOLS)/ghz:
	GOBIN=$(TOOLS) GOWORK=off $(GO) install github.com/bojand/ghz/cmd/ghz@$(GHZ_VERSION)

.PHONY: clean
clean: ## remove bin/ and the web app's build
	rm -rf $(BIN) $(WEB)/.next
