// Package arch checks the shape of the code: every import points down the
// layers of docs/architecture.md, and the clients (adapters, ecmctl) never
// link the broker.
package arch

import (
	"go/parser"
	"go/token"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"
)

const module = "github.com/ecm-broker/ecm-broker/"

// layers lists the module's packages from the bottom up (docs/architecture.md).
// A package may import packages of lower layers only; a path ending in "/"
// names every package under it.
var layers = [][]string{
	{"uin", "api", "schemas", "policies"},
	{"wire"},
	{"cenats"},
	{"broker/config", "broker/event", "broker/audit/chain", "adapters"},
	{"broker/child", "broker/store", "broker/natsauth", "adapters/pct", "adapters/lea", "adapters/connexions", "adapters/yot", "adapters/police"},
	{"broker/policy", "broker/audit", "adapters/run"},
	{"broker/pipeline", "broker/push"},
	{"broker/ops", "broker/govern"},
	{"broker/httpapi"},
	{"broker/console"},
	{"broker"},
	{"demo"},
	{"test/testenv", "test/adaptertest"},
	{"cmd/", "test/"},
}

// clients are packages the agencies and operators run: they talk to the
// broker over NATS or HTTP and must never link any of it.
var clients = []string{"adapters", "adapters/", "cmd/ecmctl", "cmd/ecm-adapter", "uin", "wire", "cenats", "api", "schemas"}

func layerOf(pkg string) int {
	best, bestLen := -1, -1
	for i, l := range layers {
		for _, p := range l {
			match := pkg == p || strings.HasSuffix(p, "/") && strings.HasPrefix(pkg, p)
			if match && len(p) > bestLen {
				best, bestLen = i, len(p)
			}
		}
	}
	return best
}

func isClient(pkg string) bool {
	for _, c := range clients {
		if pkg == c || strings.HasSuffix(c, "/") && strings.HasPrefix(pkg, c) {
			return true
		}
	}
	return false
}

// imports reads every non-test Go file under the module root and returns,
// per package directory, the module packages it imports.
func imports(t *testing.T, root string) map[string]map[string]bool {
	t.Helper()
	out := map[string]map[string]bool{}
	fset := token.NewFileSet()
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && (strings.HasPrefix(d.Name(), ".") || d.Name() == "testdata" || d.Name() == "node_modules") {
			return filepath.SkipDir
		}
		if d.IsDir() || !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
			return nil
		}
		f, err := parser.ParseFile(fset, path, nil, parser.ImportsOnly)
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, filepath.Dir(path))
		pkg := filepath.ToSlash(rel)
		if out[pkg] == nil {
			out[pkg] = map[string]bool{}
		}
		for _, imp := range f.Imports {
			p, _ := strconv.Unquote(imp.Path.Value)
			if strings.HasPrefix(p, module) {
				out[pkg][strings.TrimPrefix(p, module)] = true
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func TestImportsPointDown(t *testing.T) {
	root, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(root, "go.mod")); err != nil {
		t.Fatalf("module root not found at %s", root)
	}
	graph := imports(t, root)
	if len(graph) < 20 {
		t.Fatalf("read only %d packages", len(graph))
	}
	var pkgs []string
	for p := range graph {
		pkgs = append(pkgs, p)
	}
	sort.Strings(pkgs)
	for _, pkg := range pkgs {
		from := layerOf(pkg)
		if from < 0 {
			t.Errorf("package %s is in no layer: add it to docs/architecture.md and to layers here", pkg)
			continue
		}
		for imp := range graph[pkg] {
			to := layerOf(imp)
			switch {
			case to < 0:
				t.Errorf("%s imports %s, which is in no layer", pkg, imp)
			case to >= from:
				t.Errorf("%s (layer %d) imports %s (layer %d): imports must point down", pkg, from, imp, to)
			case isClient(pkg) && (imp == "broker" || strings.HasPrefix(imp, "broker/")):
				t.Errorf("%s is a client and imports %s: clients never link the broker", pkg, imp)
			}
		}
	}
}

// The rule itself fails when it should: an upward import and a client
// linking the broker are both caught.
func TestLayerRuleCatchesUpwardImports(t *testing.T) {
	if layerOf("broker/event") >= layerOf("broker/policy") {
		t.Error("broker/event must sit below broker/policy")
	}
	if layerOf("broker/pipeline") <= layerOf("broker/policy") {
		t.Error("an import of broker/pipeline from broker/policy would not be caught")
	}
	if !isClient("adapters/run") || !isClient("cmd/ecmctl") || isClient("demo") {
		t.Error("clients are adapters, ecmctl and the leaf packages; the demo is not")
	}
}
