package policies

import (
	"fmt"
	"io/fs"
	"path"
	"strings"
)

// SchemaDir holds the JSON Schemas the data files are checked against. They
// are not data the policies read, so Read leaves them out (opa test loads
// them as data.schema, which no rule reads).
const SchemaDir = "schema"

// IsModule reports whether a policy file is a Rego module (tests included).
func IsModule(name string) bool { return strings.HasSuffix(name, ".rego") }

// IsTest reports whether a policy file is a Rego test module.
func IsTest(name string) bool { return strings.HasSuffix(name, "_test.rego") }

// ScenarioDir holds the scenario tables (CSV): tests an IG lead writes as
// rows of a spreadsheet (scenario.go).
const ScenarioDir = "scenarios"

// IsScenario reports whether a policy file is a scenario table.
func IsScenario(name string) bool { return path.Ext(name) == ".csv" }

// TestDataDir holds data the Rego tests read (testdata/matrix.yaml: the
// matrix the tests of the statutory mechanics are written against), loaded
// as data.testdata for the tests only.
const TestDataDir = "testdata"

// IsTestData reports whether a policy file is data for the tests only.
func IsTestData(name string) bool { return strings.HasPrefix(name, TestDataDir+"/") && IsData(name) }

// IsTestFile reports whether a policy file is part of its tests (a Rego
// test, a scenario table, test data) rather than of the policy: tests do not
// change a policy's revision and are not compiled into it.
func IsTestFile(name string) bool { return IsTest(name) || IsScenario(name) || IsTestData(name) }

// IsData reports whether a policy file is a data document the policies read
// (YAML or JSON), loaded as `opa test DIR` loads it: its content at the
// path of its directory under data.
func IsData(name string) bool {
	switch path.Ext(name) {
	case ".yaml", ".yml", ".json":
		return true
	}
	return false
}

// Read returns the files of a policy by slash path: its Rego modules and
// data documents, and when withTests its test files too (IsTestFile). Hidden directories (.regal) and SchemaDir are skipped.
func Read(fsys fs.FS, withTests bool) (map[string]string, error) {
	files := map[string]string{}
	err := fs.WalkDir(fsys, ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			if p != "." && (strings.HasPrefix(d.Name(), ".") || p == SchemaDir) {
				return fs.SkipDir
			}
			return nil
		}
		keep := (IsModule(p) || IsData(p)) && !IsTestFile(p) || withTests && IsTestFile(p)
		if !keep {
			return nil
		}
		b, err := fs.ReadFile(fsys, p)
		if err != nil {
			return err
		}
		files[p] = string(b)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("loading policy: %w", err)
	}
	return files, nil
}
