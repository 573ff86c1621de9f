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

// Read returns the files of a policy by slash path: its Rego modules (the
// _test.rego files too when withTests) and its data documents. Hidden
// directories (.regal) and SchemaDir are skipped.
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
		if !(IsModule(p) && (withTests || !IsTest(p))) && !IsData(p) {
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
