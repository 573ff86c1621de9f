package schemas

import (
	"bytes"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/santhosh-tekuri/jsonschema/v6"
)

//go:embed *.json
var files embed.FS

// DefsID is the $id of the shared definitions every event schema refers to.
const DefsID = "urn:uk.gov.ecm:schema:defs.v1"

// MaxDataBytes bounds an event's data: the domain specification allows a
// whole event of at most 1 MiB, so data alone can be no larger.
const MaxDataBytes = 1 << 20

// Set is the catalogue's schemas, compiled. It is safe for concurrent use.
type Set struct {
	byName map[string]*jsonschema.Schema
}

// Load compiles the embedded schemas: every catalogue name must have one,
// each file's $id must be its file name, and every schema file must belong
// to the catalogue. Call it once at start-up; Validate on the returned Set
// never compiles.
func Load() (*Set, error) {
	c := jsonschema.NewCompiler()
	c.DefaultDraft(jsonschema.Draft2020)
	c.AssertFormat()
	c.UseLoader(noLoader{})

	paths, err := fs.Glob(files, "*.json")
	if err != nil {
		return nil, fmt.Errorf("listing schemas: %w", err)
	}
	onDisk := map[string]bool{}
	for _, p := range paths {
		b, err := files.ReadFile(p)
		if err != nil {
			return nil, fmt.Errorf("reading schema %s: %w", p, err)
		}
		doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(b))
		if err != nil {
			return nil, fmt.Errorf("parsing schema %s: %w", p, err)
		}
		obj, _ := doc.(map[string]any)
		id, _ := obj["$id"].(string)
		name := strings.TrimSuffix(p, TypeSuffix+".json")
		if want := SchemaID(name); id != want {
			return nil, fmt.Errorf("schema %s: $id is %q, want %q", p, id, want)
		}
		if err := c.AddResource(id, doc); err != nil {
			return nil, fmt.Errorf("adding schema %s: %w", p, err)
		}
		onDisk[name] = true
	}

	s := &Set{byName: make(map[string]*jsonschema.Schema, len(catalogue))}
	for name := range catalogue {
		if !onDisk[name] {
			return nil, fmt.Errorf("catalogue name %s has no schema file %s.v1.json", name, name)
		}
		sch, err := c.Compile(SchemaID(name))
		if err != nil {
			return nil, fmt.Errorf("compiling schema %s: %w", name, err)
		}
		s.byName[name] = sch
	}
	for name := range onDisk {
		if _, ok := catalogue[name]; !ok && SchemaID(name) != DefsID {
			return nil, fmt.Errorf("schema file %s.v1.json is not in the catalogue", name)
		}
	}
	return s, nil
}

// noLoader refuses every URL the embedded schemas do not define, so a
// mistyped $ref fails at start-up instead of reaching the file system or
// the network.
type noLoader struct{}

func (noLoader) Load(url string) (any, error) {
	return nil, fmt.Errorf("%s is not one of the embedded schemas", url)
}

var defaultSet = sync.OnceValues(Load)

// Default returns the Set that the package-level Validate uses, compiling it
// on first use only. The broker calls it at start-up so that a broken
// schema stops it there rather than at the first event.
func Default() (*Set, error) { return defaultSet() }

// Validate checks an event's data against the schema of its type with the
// Set returned by Default. See (*Set).Validate.
func Validate(eventType string, data []byte, now time.Time) []string {
	s, err := Default()
	if err != nil {
		return []string{"schemas: " + err.Error()}
	}
	return s.Validate(eventType, data, now)
}

// Validate checks the data of an event of the given CloudEvents type
// (uk.gov.ecm.<name>.v1) and returns every problem, each as
// "<path>: <what is wrong>" with a path from the event's root such as
// data.address.postcode or data.needs[0].outcome. It returns an empty
// slice when the data is valid. now is the time the broker received the
// event: dates are checked against it.
//
// Beyond the JSON Schema it checks what a schema cannot say: that the data
// is UTF-8; that no string holds a control character (tabs and line breaks
// are allowed in free text only), an unpaired surrogate or a bidirectional
// override; that dob, last_seen, occurred_at, flagged_at and ended are
// not in the future; that no date is more than 25 years ahead; that an
// end is not before its start; and that no object holds a key twice (see
// doc.go). No problem repeats a value from the data (redact.go).
func (s *Set) Validate(eventType string, data []byte, now time.Time) (probs []string) {
	defer func() {
		// The schema library can panic on numbers it cannot represent
		// (1e999999999); such data is refused, never a crash.
		if r := recover(); r != nil {
			probs = []string{"data: contains a value that cannot be validated (a number too large to represent?)"}
		}
	}()
	name, _ := NameOf(eventType)
	entry, ok := catalogue[name]
	if !ok {
		return []string{"type: is not in the event catalogue (want uk.gov.ecm.<name>.v1, e.g. uk.gov.ecm.caf.completed.v1)"}
	}
	switch {
	case len(bytes.TrimSpace(data)) == 0:
		return []string{"data: missing: every catalogue event carries a JSON object"}
	case len(data) > MaxDataBytes:
		return []string{fmt.Sprintf("data: %d bytes is larger than the 1 MiB an event may carry", len(data))}
	case !utf8.Valid(data):
		return []string{"data: not valid UTF-8: re-encode the text as UTF-8"}
	}
	v, err := jsonschema.UnmarshalJSON(bytes.NewReader(data))
	if err != nil {
		return []string{"data: not valid JSON: " + jsonProblem(err)}
	}

	c := newChecker(entry, v, now)
	c.walk(v, nil)
	if err := s.byName[name].Validate(v); err != nil {
		var verr *jsonschema.ValidationError
		if !errors.As(err, &verr) {
			return []string{"data: could not be checked against the schema of " + name}
		}
		c.collect(verr)
	}
	for _, p := range duplicateKeys(data) {
		c.add(p, "is given more than once in the same object: the broker cannot tell which value is meant; send each key once")
	}
	return c.result()
}
