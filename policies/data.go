package policies

import (
	"bytes"
	"encoding/json"
	"fmt"
	"path"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"

	"github.com/open-policy-agent/opa/v1/util"
	"github.com/santhosh-tekuri/jsonschema/v6"
	"github.com/santhosh-tekuri/jsonschema/v6/kind"
	"gopkg.in/yaml.v3"
)

// Problem is one mistake in a policy's data files, with the line it is on
// (0 when it is about a file as a whole).
type Problem struct {
	File string
	Line int
	Msg  string
}

func (p Problem) String() string {
	if p.Line > 0 {
		return fmt.Sprintf("%s:%d: %s", p.File, p.Line, p.Msg)
	}
	return p.File + ": " + p.Msg
}

// Problems is the error of data files that cannot be loaded or that break
// the contract; it lists every problem found, in file and line order.
type Problems []Problem

func (ps Problems) Error() string {
	s := make([]string, len(ps))
	for i, p := range ps {
		s[i] = p.String()
	}
	return strings.Join(s, "; ")
}

func (ps Problems) sorted() Problems {
	sort.SliceStable(ps, func(i, j int) bool {
		if ps[i].File != ps[j].File {
			return ps[i].File < ps[j].File
		}
		return ps[i].Line < ps[j].Line
	})
	return ps
}

// Data is a policy's data documents, parsed and merged into the document OPA
// reads (Doc: matrix.yaml as data.matrix, legend.yaml as data.legend), with
// what is needed to say on which line a value is.
type Data struct {
	Doc   map[string]any
	files []*dataFile
}

type dataFile struct {
	name   string
	prefix []string // the directories above it: where its content goes under data
	root   *yaml.Node
}

// Schemas maps a data file name (at the root of the policy) to the JSON
// Schema it is checked against, in SchemaDir.
var Schemas = map[string]string{
	"matrix.yaml":     SchemaDir + "/matrix/matrix.schema.json",
	"legend.yaml":     SchemaDir + "/legend/legend.schema.json",
	"agreements.yaml": SchemaDir + "/agreements/agreements.schema.json",
}

// LoadData parses the data files among a policy's files, checks those that
// have a schema (Schemas; the embedded ones, not a draft's own) and merges
// them as `opa test DIR` does. Its error is Problems, each with its line.
func LoadData(files map[string]string) (*Data, error) {
	d := &Data{Doc: map[string]any{}}
	var problems Problems
	names := make([]string, 0, len(files))
	for n := range files {
		if IsData(n) {
			names = append(names, n)
		}
	}
	sort.Strings(names)
	for _, name := range names {
		f, value, ps := parseData(name, files[name])
		problems = append(problems, ps...)
		if f == nil {
			continue
		}
		d.files = append(d.files, f)
		if err := merge(d.Doc, f.prefix, value); err != nil {
			problems = append(problems, Problem{File: name, Msg: err.Error()})
		}
	}
	if len(problems) > 0 {
		return nil, problems.sorted()
	}
	return d, nil
}

// parseData reads one data file (JSON is YAML too) and checks it against
// its schema.
func parseData(name, text string) (*dataFile, any, Problems) {
	var root yaml.Node
	if err := yaml.Unmarshal([]byte(text), &root); err != nil {
		return nil, nil, Problems{yamlProblem(name, err)}
	}
	value, err := nodeValue(&root)
	if err != nil {
		return nil, nil, Problems{yamlProblem(name, err)}
	}
	f := &dataFile{name: name, root: &root}
	if dir := path.Dir(name); dir != "." {
		f.prefix = strings.Split(dir, "/")
	}
	if s, ok := Schemas[name]; ok {
		if ps := f.validate(s, value); len(ps) > 0 {
			return nil, nil, ps
		}
	}
	return f, value, nil
}

// nodeValue converts a YAML document to the value OPA's loader gives it
// (YAML 1.2, numbers as json.Number).
func nodeValue(root *yaml.Node) (any, error) {
	var v any
	if err := root.Decode(&v); err != nil {
		return nil, err
	}
	b, err := json.Marshal(jsonable(v))
	if err != nil {
		return nil, err
	}
	var out any
	if err := util.UnmarshalJSON(b, &out); err != nil {
		return nil, err
	}
	return out, nil
}

func jsonable(v any) any {
	switch t := v.(type) {
	case map[string]any:
		for k, x := range t {
			t[k] = jsonable(x)
		}
	case map[any]any:
		out := map[string]any{}
		for k, x := range t {
			out[fmt.Sprint(k)] = jsonable(x)
		}
		return out
	case []any:
		for i, x := range t {
			t[i] = jsonable(x)
		}
	}
	return v
}

func yamlProblem(name string, err error) Problem {
	msg := err.Error()
	msg = strings.TrimPrefix(msg, "yaml: ")
	// yaml.v3 says "line N: ..." (and "unmarshal errors:\n  line N: ...").
	for _, line := range strings.Split(msg, "\n") {
		line = strings.TrimSpace(line)
		if rest, ok := strings.CutPrefix(line, "line "); ok {
			if n, after, ok := strings.Cut(rest, ": "); ok {
				if ln, err := strconv.Atoi(n); err == nil {
					return Problem{File: name, Line: ln, Msg: after}
				}
			}
		}
	}
	return Problem{File: name, Msg: msg}
}

// merge puts value at prefix under doc; objects merge, anything else twice
// is a conflict.
func merge(doc map[string]any, prefix []string, value any) error {
	for i := len(prefix) - 1; i >= 0; i-- {
		value = map[string]any{prefix[i]: value}
	}
	obj, ok := value.(map[string]any)
	if !ok {
		return fmt.Errorf("the file must hold an object (its keys become data.<key>)")
	}
	return mergeInto(doc, obj, "data")
}

func mergeInto(dst, src map[string]any, at string) error {
	for k, v := range src {
		old, ok := dst[k]
		if !ok {
			dst[k] = v
			continue
		}
		a, aok := old.(map[string]any)
		b, bok := v.(map[string]any)
		if !aok || !bok {
			return fmt.Errorf("%s.%s is also defined in another data file", at, k)
		}
		if err := mergeInto(a, b, at+"."+k); err != nil {
			return err
		}
	}
	return nil
}

// validate checks a file's value against its schema, each problem on the
// line of the value at fault.
func (f *dataFile) validate(schemaPath string, value any) Problems {
	sch, err := compiledSchema(schemaPath)
	if err != nil {
		return Problems{{File: f.name, Msg: err.Error()}}
	}
	// The schema library reads numbers as json.Number too.
	b, _ := json.Marshal(value)
	inst, err := jsonschema.UnmarshalJSON(bytes.NewReader(b))
	if err != nil {
		return Problems{{File: f.name, Msg: err.Error()}}
	}
	err = sch.Validate(inst)
	if err == nil {
		return nil
	}
	ve, ok := err.(*jsonschema.ValidationError)
	if !ok {
		return Problems{{File: f.name, Msg: err.Error()}}
	}
	var ps Problems
	f.collect(ve, &ps)
	return ps.sorted()
}

func (f *dataFile) collect(e *jsonschema.ValidationError, ps *Problems) {
	if pn, ok := e.ErrorKind.(*kind.PropertyNames); ok {
		// Say it once, at the name, rather than the enum the name failed.
		loc, line := f.findKey(e.InstanceLocation, pn.Property)
		*ps = append(*ps, Problem{File: f.name, Line: line,
			Msg: fmt.Sprintf("%s: %q is not allowed here%s", where(loc), pn.Property, allowedNames(e))})
		return
	}
	if len(e.Causes) > 0 {
		for _, c := range e.Causes {
			f.collect(c, ps)
		}
		return
	}
	f.leaf(e, ps)
}

// allowedNames lists, for a property name that is not allowed, the names
// that are (from the enum the name failed).
func allowedNames(e *jsonschema.ValidationError) string {
	var want []any
	var visit func(x *jsonschema.ValidationError)
	visit = func(x *jsonschema.ValidationError) {
		if en, ok := x.ErrorKind.(*kind.Enum); ok {
			want = en.Want
		}
		for _, c := range x.Causes {
			visit(c)
		}
	}
	visit(e)
	if len(want) == 0 || len(want) > 30 {
		return ""
	}
	return "; use one of " + list(want)
}

func (f *dataFile) leaf(e *jsonschema.ValidationError, ps *Problems) {
	loc := e.InstanceLocation
	add := func(line int, msg string) {
		*ps = append(*ps, Problem{File: f.name, Line: line, Msg: where(loc) + ": " + msg})
	}
	line := f.line(loc)
	switch k := e.ErrorKind.(type) {
	case *kind.Required:
		add(line, "needs "+list(anys(k.Missing)))
	case *kind.AdditionalProperties:
		for _, p := range k.Properties {
			add(f.keyLine(loc, p), fmt.Sprintf("%q is not a field here", p))
		}
	case *kind.Type:
		add(line, "must be "+strings.Join(k.Want, " or ")+", not "+k.Got)
	case *kind.Enum:
		add(line, "must be one of "+list(k.Want))
	case *kind.Const:
		add(line, fmt.Sprintf("must be %v", k.Want))
	case *kind.Pattern:
		add(line, "is not in the expected form ("+k.Want+")")
	case *kind.MinLength:
		add(line, fmt.Sprintf("must be at least %d characters", k.Want))
	case *kind.MaxLength:
		add(line, fmt.Sprintf("must be at most %d characters, not %d", k.Want, k.Got))
	case *kind.MinItems:
		add(line, fmt.Sprintf("must list at least %d", k.Want))
	case *kind.UniqueItems:
		add(line, fmt.Sprintf("lists the same thing twice (items %d and %d)", k.Duplicates[0]+1, k.Duplicates[1]+1))
	case *kind.Minimum:
		add(line, "must be at least "+k.Want.RatString())
	case *kind.Not:
		add(f.keyLine(loc, "when"), "must not have "+notWhat(e.SchemaURL))
	case *kind.FalseSchema:
		add(line, "is not allowed here")
	default:
		add(line, "does not meet the schema's "+strings.Join(e.ErrorKind.KeywordPath(), "/")+" rule")
	}
}

// notWhat names what a `not` keyword forbids, for the one the schemas use.
func notWhat(schemaURL string) string {
	if strings.Contains(schemaURL, "otherwise") {
		return "conditions (when): the refusal for everyone else always applies"
	}
	return "this"
}

func where(loc []string) string {
	if len(loc) == 0 {
		return "the file"
	}
	return strings.Join(loc, " / ")
}

func anys(s []string) []any {
	out := make([]any, len(s))
	for i, x := range s {
		out[i] = x
	}
	return out
}

func list(xs []any) string {
	s := make([]string, len(xs))
	for i, x := range xs {
		s[i] = fmt.Sprintf("%v", x)
	}
	return strings.Join(s, ", ")
}

// line returns the line of the value at loc in the file (or of the nearest
// value above it that exists).
func (f *dataFile) line(loc []string) int {
	n := nodeAt(f.root, loc)
	if n == nil {
		return 0
	}
	return n.Line
}

// keyLine returns the line of key name in the object at loc.
func (f *dataFile) keyLine(loc []string, name string) int {
	n := nodeAt(f.root, loc)
	if n != nil && n.Kind == yaml.MappingNode {
		for i := 0; i+1 < len(n.Content); i += 2 {
			if n.Content[i].Value == name {
				return n.Content[i].Line
			}
		}
	}
	return f.line(loc)
}

// findKey finds where key name is written, for a property name the schema
// refuses. The schema library can report the object's location with steps
// wrong, so the key is looked for: the one at loc's depth sharing most of
// its steps.
func (f *dataFile) findKey(loc []string, name string) ([]string, int) {
	var best []string
	line, score := 0, -1
	var walk func(x *yaml.Node, at []string)
	walk = func(x *yaml.Node, at []string) {
		switch x.Kind {
		case yaml.DocumentNode:
			for _, c := range x.Content {
				walk(c, at)
			}
		case yaml.MappingNode:
			for i := 0; i+1 < len(x.Content); i += 2 {
				if x.Content[i].Value == name {
					s := 0
					for j := range min(len(at), len(loc)) {
						if at[j] == loc[j] {
							s++
						}
					}
					if len(at) == len(loc) {
						s += len(loc) + 1
					}
					if s > score {
						best, line, score = slices.Clone(at), x.Content[i].Line, s
					}
				}
				walk(x.Content[i+1], append(slices.Clone(at), x.Content[i].Value))
			}
		}
	}
	walk(f.root, nil)
	if score < 0 {
		return loc, f.line(loc)
	}
	return best, line
}

// nodeAt walks a YAML document along loc (object keys, array indices) and
// returns the deepest node it reaches.
func nodeAt(n *yaml.Node, loc []string) *yaml.Node {
	for n != nil && (n.Kind == yaml.DocumentNode || n.Kind == yaml.AliasNode) {
		if n.Kind == yaml.DocumentNode {
			if len(n.Content) == 0 {
				return n
			}
			n = n.Content[0]
		} else {
			n = n.Alias
		}
	}
	if n == nil || len(loc) == 0 {
		return n
	}
	switch n.Kind {
	case yaml.MappingNode:
		for i := 0; i+1 < len(n.Content); i += 2 {
			if n.Content[i].Value == loc[0] {
				return nodeAt(n.Content[i+1], loc[1:])
			}
		}
	case yaml.SequenceNode:
		if i, err := strconv.Atoi(loc[0]); err == nil && i >= 0 && i < len(n.Content) {
			return nodeAt(n.Content[i], loc[1:])
		}
	}
	return n
}

// Line returns where the value at a path under data (["matrix", "events",
// "police.incident", "area", "lea"]) is written: the file and line, or ""
// and 0 when no data file holds it.
func (d *Data) Line(at ...string) (string, int) {
	for _, f := range d.files {
		if len(at) < len(f.prefix) || !slices.Equal(at[:len(f.prefix)], f.prefix) {
			continue
		}
		rest := at[len(f.prefix):]
		if len(rest) == 0 || nodeAt(f.root, rest[:1]) == nodeAt(f.root, nil) {
			continue
		}
		return f.name, f.line(rest)
	}
	return "", 0
}

var (
	schemaMu    sync.Mutex
	schemaCache = map[string]*jsonschema.Schema{}
)

// compiledSchema compiles one of the embedded schemas (FS) once.
func compiledSchema(p string) (*jsonschema.Schema, error) {
	schemaMu.Lock()
	defer schemaMu.Unlock()
	if s, ok := schemaCache[p]; ok {
		return s, nil
	}
	b, err := FS.ReadFile(p)
	if err != nil {
		return nil, fmt.Errorf("schema %s: %w", p, err)
	}
	doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(b))
	if err != nil {
		return nil, fmt.Errorf("schema %s: %w", p, err)
	}
	c := jsonschema.NewCompiler()
	c.DefaultDraft(jsonschema.Draft2020)
	if err := c.AddResource(p, doc); err != nil {
		return nil, fmt.Errorf("schema %s: %w", p, err)
	}
	s, err := c.Compile(p)
	if err != nil {
		return nil, fmt.Errorf("schema %s: %w", p, err)
	}
	schemaCache[p] = s
	return s, nil
}
