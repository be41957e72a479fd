package bookingrush_test

import (
	"os"
	"regexp"
	"testing"
)

// importersGo is the oldest Go an importing team needs for gen/: its
// go.mod may name no newer one (README.md, "Integrators"). The services'
// module may use a newer Go; the workspace picks the newer dependencies.
const importersGo = "1.24"

func TestModuleDoesNotForceANewerGo(t *testing.T) {
	b, err := os.ReadFile("../go.mod")
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`(?m)^go (\d+\.\d+)(\.\d+)?$`).FindSubmatch(b)
	if m == nil || string(m[1]) != importersGo {
		t.Fatalf("gen/go.mod says %q, want go %s: a newer go line (or a dependency needing one: go get go@%s in gen/) would force it on every importer", m, importersGo, importersGo)
	}
	if regexp.MustCompile(`(?m)^toolchain `).Match(b) {
		t.Error("gen/go.mod names a toolchain; importers choose their own")
	}
}
