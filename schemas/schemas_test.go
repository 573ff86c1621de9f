package schemas

import (
	"bytes"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

var update = flag.Bool("update", false, "rewrite testdata/invalid/*.want from the current problems (review the diff)")

// fixtureNow is the broker's clock for every fixture: 2 May 2026, 11:00 BST.
var fixtureNow = time.Date(2026, 5, 2, 10, 0, 0, 0, time.UTC)

// fixtureName splits a fixture file name into its catalogue name and its
// case: "index.child.registered.future-dob.json" gives
// "index.child.registered", "future-dob"; "caf.completed.v1.json" gives
// "caf.completed", "v1".
func fixtureName(t *testing.T, file string) (name, rest string) {
	t.Helper()
	base := strings.TrimSuffix(file, ".json")
	for _, n := range Names() {
		if r, ok := strings.CutPrefix(base, n+"."); ok && (len(n) > len(name)) {
			name, rest = n, r
		}
	}
	if name == "" {
		t.Fatalf("fixture %s does not start with a catalogue name", file)
	}
	return name, rest
}

// TestFixtures walks testdata/valid (each must give no problem) and
// testdata/invalid (each must give exactly the problems in its .want
// sidecar, one a line).
func TestFixtures(t *testing.T) {
	valid := map[string]int{}
	invalid := map[string]int{}

	files, err := filepath.Glob("testdata/valid/*.json")
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range files {
		name, rest := fixtureName(t, filepath.Base(f))
		if rest != "v1" && !strings.HasPrefix(rest, "v1.") {
			t.Errorf("%s: valid fixtures are named <name>.v1.json or <name>.v1.<variant>.json", f)
		}
		valid[name]++
		t.Run("valid/"+filepath.Base(f), func(t *testing.T) {
			data, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			if got := Validate(TypePrefix+name+TypeSuffix, data, fixtureNow); len(got) != 0 {
				t.Errorf("want no problem, got:\n%s", strings.Join(got, "\n"))
			}
		})
	}

	files, err = filepath.Glob("testdata/invalid/*.json")
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range files {
		name, _ := fixtureName(t, filepath.Base(f))
		invalid[name]++
		t.Run("invalid/"+filepath.Base(f), func(t *testing.T) {
			data, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			got := Validate(TypePrefix+name+TypeSuffix, data, fixtureNow)
			wantFile := strings.TrimSuffix(f, ".json") + ".want"
			if *update {
				if err := os.WriteFile(wantFile, []byte(strings.Join(got, "\n")+"\n"), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			b, err := os.ReadFile(wantFile)
			if err != nil {
				t.Fatalf("%v (run go test ./schemas/ -update and review the new file)", err)
			}
			want := strings.Split(strings.TrimSpace(string(b)), "\n")
			if len(got) == 0 {
				t.Fatalf("want problems %q, got none", want)
			}
			if !slices.Equal(got, want) {
				t.Errorf("problems differ\n got: %s\nwant: %s", strings.Join(got, "\n      "), strings.Join(want, "\n      "))
			}
		})
	}

	for _, n := range Names() {
		if valid[n] < 1 {
			t.Errorf("%s: no valid fixture in testdata/valid", n)
		}
		if invalid[n] < 2 {
			t.Errorf("%s: %d invalid fixtures in testdata/invalid, want at least 2", n, invalid[n])
		}
	}
}

// TestValidate covers what the fixtures cannot: the type, the raw bytes,
// and the clock.
func TestValidate(t *testing.T) {
	const reg = "uk.gov.ecm.index.child.registered.v1"
	child := func(dob string) string {
		return `{"name":{"given":"Amy","family":"Adams"},"dob":"` + dob +
			`","gender":"female","address":{"lines":["14 Park Row"],"postcode":"LS6 3AA"},"area":"leeds"}`
	}
	incident := func(at string) string {
		return `{"kind":"other","occurred_at":"` + at + `","child_present":false,"summary":"Found safe."}`
	}
	bst := time.Date(2026, 5, 1, 23, 30, 0, 0, time.UTC) // 00:30 on 2 May in the UK
	winter := time.Date(2026, 1, 10, 23, 30, 0, 0, time.UTC)

	tests := []struct {
		name string
		typ  string
		data string
		now  time.Time
		want []string // exact problems; nil means none
	}{
		{name: "unknown type", typ: "uk.gov.ecm.index.child.adopted.v1", data: `{}`,
			want: []string{`type: is not in the event catalogue (want uk.gov.ecm.<name>.v1, e.g. uk.gov.ecm.caf.completed.v1)`}},
		{name: "bare name is not a type", typ: "caf.completed", data: `{}`,
			want: []string{`type: is not in the event catalogue (want uk.gov.ecm.<name>.v1, e.g. uk.gov.ecm.caf.completed.v1)`}},
		{name: "other version", typ: "uk.gov.ecm.caf.completed.v2", data: `{}`,
			want: []string{`type: is not in the event catalogue (want uk.gov.ecm.<name>.v1, e.g. uk.gov.ecm.caf.completed.v1)`}},
		{name: "not JSON", typ: reg, data: `name=Amy`,
			want: []string{"data: not valid JSON: invalid character 'a' in literal null (expecting 'u')"}},
		{name: "trailing garbage", typ: reg, data: child("2014-05-02") + `}`,
			want: []string{"data: not valid JSON: invalid character after top-level value"}},
		{name: "empty", typ: reg, data: ``,
			want: []string{"data: missing: every catalogue event carries a JSON object"}},
		{name: "null", typ: reg, data: `null`,
			want: []string{"data: must be an object, got null"}},
		{name: "invalid UTF-8", typ: reg, data: strings.Replace(child("2014-05-02"), "Amy", "Am\xff", 1),
			want: []string{"data: not valid UTF-8: re-encode the text as UTF-8"}},
		{name: "too large", typ: reg, data: `{"x":"` + strings.Repeat("a", MaxDataBytes) + `"}`,
			want: []string{"data: 1048584 bytes is larger than the 1 MiB an event may carry"}},
		{name: "unpaired surrogate", typ: reg, data: strings.Replace(child("2014-05-02"), "Amy", `Am\ud800`, 1),
			want: []string{"data.name.given: contains U+FFFD or an unpaired surrogate escape: the text was mis-encoded before publishing"}},
		{name: "bidi override", typ: reg, data: strings.Replace(child("2014-05-02"), "Adams", "\u202eAdams", 1),
			want: []string{"data.name.family: contains bidirectional control character U+202E, which can disguise text; remove it"}},
		{name: "C1 control", typ: reg, data: strings.Replace(child("2014-05-02"), "Adams", `Ad\u0085ams`, 1),
			want: []string{"data.name.family: contains control character U+0085; remove it"}},
		{name: "tab in a short field", typ: reg, data: strings.Replace(child("2014-05-02"), "Adams", `Ad\tams`, 1),
			want: []string{"data.name.family: must be printable text, not blank, with no control characters (no tabs or line breaks)"}},
		{name: "line breaks and tabs in free text", typ: "uk.gov.ecm.police.incident.v1",
			data: `{"kind":"other","occurred_at":"2026-05-01T10:00:00Z","child_present":false,"summary":"Line one.\r\n\tLine two."}`},
		{name: "blank free text", typ: "uk.gov.ecm.police.incident.v1",
			data: `{"kind":"other","occurred_at":"2026-05-01T10:00:00Z","child_present":false,"summary":" \n "}`,
			want: []string{"data.summary: must not be blank and must have no control characters other than tabs and line breaks"}},
		{name: "name of exactly 100 characters", typ: reg, data: strings.Replace(child("2014-05-02"), "Adams", strings.Repeat("é", 100), 1)},
		{name: "born today", typ: reg, data: child("2026-05-02")},
		{name: "born tomorrow", typ: reg, data: child("2026-05-03"),
			want: []string{"data.dob: must not be in the future"}},
		{name: "born just after midnight BST", typ: reg, data: child("2026-05-02"), now: bst},
		{name: "tomorrow in winter", typ: reg, data: child("2026-01-11"), now: winter,
			want: []string{"data.dob: must not be in the future"}},
		{name: "occurred within clock skew", typ: "uk.gov.ecm.police.incident.v1", data: incident("2026-05-02T10:04:00Z")},
		{name: "occurred beyond clock skew", typ: "uk.gov.ecm.police.incident.v1", data: incident("2026-05-02T10:06:00Z"),
			want: []string{"data.occurred_at: must not be in the future"}},
		{name: "offset counted", typ: "uk.gov.ecm.police.incident.v1", data: incident("2026-05-02T11:04:00+01:00")},
		{name: "consent expiring in 25 years", typ: "uk.gov.ecm.consent.granted.v1",
			data: `{"given_by":"parent","purposes":["caf"],"agencies":["pct"],"expires":"2051-05-01"}`},
		{name: "consent expiring in 26 years", typ: "uk.gov.ecm.consent.granted.v1",
			data: `{"given_by":"parent","purposes":["caf"],"agencies":["pct"],"expires":"2052-05-01"}`,
			want: []string{"data.expires: is more than 25 years ahead; check the year"}},
		{name: "impossible date", typ: reg, data: child("2014-02-30"),
			want: []string{"data.dob: must be a date written YYYY-MM-DD, e.g. 2014-05-02"}},
		{name: "several problems, sorted", typ: reg,
			data: `{"name":{"given":"Amy"},"dob":"2030-01-01","gender":"girl","address":{"lines":["1 Park Row"]},"area":"leeds","uin":"9434765919"}`,
			want: []string{
				"data.address.postcode: required",
				"data.dob: must not be in the future",
				`data.gender: must be one of "female", "male", "other", "unknown"`,
				"data.name.family: required",
				`data: unknown field "uin" (index events carry s.12(4) basic data only)`,
			}},
		{name: "unknown field in a case event", typ: "uk.gov.ecm.consent.withdrawn.v1",
			data: `{"purposes":["caf"],"agencies":["lea"],"reason":"moved school"}`,
			want: []string{`data: unknown field "reason" (not in the consent.withdrawn schema)`}},
		{name: "the enum value given is not repeated", typ: "uk.gov.ecm.connexions.neet.v1",
			data: `{"status":"` + strings.Repeat("n", 60) + `","since":"2026-01-12"}`,
			want: []string{`data.status: must be one of "neet", "eet"`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			now := tt.now
			if now.IsZero() {
				now = fixtureNow
			}
			got := Validate(tt.typ, []byte(tt.data), now)
			if got == nil {
				t.Fatal("Validate returned nil, want an empty slice")
			}
			if len(tt.want) == 0 && len(got) == 0 {
				return
			}
			if !slices.Equal(got, tt.want) {
				t.Errorf("problems differ\n got: %q\nwant: %q", got, tt.want)
			}
		})
	}
}

func TestLoad(t *testing.T) {
	if _, err := Load(); err != nil {
		t.Fatal(err)
	}
	a, errA := Default()
	b, errB := Default()
	if errA != nil || errB != nil || a != b {
		t.Fatalf("Default must compile once and return the same Set: %p %v, %p %v", a, errA, b, errB)
	}
}

// TestValidateConcurrently: the broker validates events from many
// connections at once against the one compiled Set (run with -race).
func TestValidateConcurrently(t *testing.T) {
	valid, err := os.ReadFile("testdata/valid/index.transferred.v1.json")
	if err != nil {
		t.Fatal(err)
	}
	invalid, err := os.ReadFile("testdata/invalid/index.child.registered.future-dob.json")
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			for range 50 {
				if p := Validate("uk.gov.ecm.index.transferred.v1", valid, fixtureNow); len(p) != 0 {
					t.Errorf("valid: %q", p)
				}
				if p := Validate("uk.gov.ecm.index.child.registered.v1", invalid, fixtureNow); len(p) != 1 {
					t.Errorf("invalid: %q", p)
				}
			}
		})
	}
	wg.Wait()
}

// readSchemas returns every embedded schema document by file name.
func readSchemas(t *testing.T) map[string]map[string]any {
	t.Helper()
	paths, err := filepath.Glob("*.json")
	if err != nil {
		t.Fatal(err)
	}
	docs := map[string]map[string]any{}
	for _, p := range paths {
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		var doc map[string]any
		dec := json.NewDecoder(bytes.NewReader(b))
		if err := dec.Decode(&doc); err != nil {
			t.Fatalf("%s: %v", p, err)
		}
		docs[p] = doc
	}
	return docs
}

// TestCatalogueMatchesSchemaFiles: every catalogue name has a schema file
// and every schema file but defs is in the catalogue, with $id
// urn:uk.gov.ecm:schema:<name>.v1 (SchemaID) and draft 2020-12.
func TestCatalogueMatchesSchemaFiles(t *testing.T) {
	docs := readSchemas(t)
	for _, n := range Names() {
		doc, ok := docs[n+".v1.json"]
		if !ok {
			t.Errorf("%s: no schema file %s.v1.json", n, n)
			continue
		}
		if id := doc["$id"]; id != "urn:uk.gov.ecm:schema:"+n+".v1" {
			t.Errorf("%s: $id is %v", n, id)
		}
	}
	for file, doc := range docs {
		name := strings.TrimSuffix(file, ".v1.json")
		if _, ok := LookupName(name); !ok && file != "defs.v1.json" {
			t.Errorf("%s is not in the catalogue", file)
		}
		if s := doc["$schema"]; s != "https://json-schema.org/draft/2020-12/schema" {
			t.Errorf("%s: $schema is %v, want draft 2020-12", file, s)
		}
		if file == "defs.v1.json" && doc["$id"] != DefsID {
			t.Errorf("defs.v1.json: $id is %v, want %s", doc["$id"], DefsID)
		}
	}
	if got := len(Names()); got != 23 {
		t.Errorf("catalogue has %d names, want 19 + 4 broker-generated", got)
	}
}

// walkSchema calls f on every subschema (object) of a schema document with
// its JSON pointer.
func walkSchema(v any, ptr string, f func(ptr string, node map[string]any)) {
	switch x := v.(type) {
	case map[string]any:
		f(ptr, x)
		for k, e := range x {
			if k == "enum" || k == "const" || k == "required" {
				continue
			}
			walkSchema(e, ptr+"/"+k, f)
		}
	case []any:
		for i, e := range x {
			walkSchema(e, ptr+"/"+strconv.Itoa(i), f)
		}
	}
}

// TestEveryObjectClosed: every object schema, in index events (s.12(4):
// nothing but basic data) and in case events alike, forbids fields it does
// not name.
func TestEveryObjectClosed(t *testing.T) {
	for file, doc := range readSchemas(t) {
		walkSchema(doc, "", func(ptr string, node map[string]any) {
			_, hasProps := node["properties"]
			isObject := node["type"] == "object"
			if !hasProps && !isObject {
				return
			}
			if strings.Contains(ptr, "/if") {
				return // if-schemas only look at a property
			}
			if strings.HasSuffix(ptr, "/then") || strings.HasSuffix(ptr, "/else") {
				return // they narrow a closed object's named properties
			}
			if node["additionalProperties"] != false {
				t.Errorf("%s#%s: object without additionalProperties: false", file, ptr)
			}
		})
	}
}

// TestPatternsExplained: patterns live only in defs.v1.json, and each has
// a message in patternHelp.
func TestPatternsExplained(t *testing.T) {
	docs := readSchemas(t)
	for file, doc := range docs {
		walkSchema(doc, "", func(ptr string, node map[string]any) {
			if _, ok := node["pattern"]; !ok {
				return
			}
			def, ok := strings.CutPrefix(ptr, "/$defs/")
			if file != "defs.v1.json" || !ok || strings.Contains(def, "/") {
				t.Errorf("%s#%s: put patterns in a definition of defs.v1.json so that problems can explain them", file, ptr)
				return
			}
			if patternHelp[def] == "" {
				t.Errorf("defs.v1.json#%s: no patternHelp message", ptr)
			}
		})
	}
	defs := docs["defs.v1.json"]["$defs"].(map[string]any)
	for def := range patternHelp {
		if d, ok := defs[def].(map[string]any); !ok || d["pattern"] == nil {
			t.Errorf("patternHelp[%q]: no such definition with a pattern", def)
		}
	}
}

// TestDateFieldsKnown: every property holding a date or date-time has a
// rule in dateFields, and every rule is used.
func TestDateFieldsKnown(t *testing.T) {
	used := map[string]bool{}
	for file, doc := range readSchemas(t) {
		walkSchema(doc, "", func(ptr string, node map[string]any) {
			props, _ := node["properties"].(map[string]any)
			for name, p := range props {
				pm, _ := p.(map[string]any)
				ref, _ := pm["$ref"].(string)
				if strings.HasSuffix(ref, "#/$defs/date") || strings.HasSuffix(ref, "#/$defs/dateTime") {
					used[name] = true
					if _, ok := dateFields[name]; !ok {
						t.Errorf("%s#%s/properties/%s: date field without a rule in dateFields", file, ptr, name)
					}
				}
			}
		})
	}
	for name := range dateFields {
		if !used[name] {
			t.Errorf("dateFields[%q]: no schema has such a date field", name)
		}
	}
}

// TestDefsMatchGo: the enums of defs.v1.json are the lists the Go code
// gives (Agencies, Purposes), and the outcome slugs are the five ECM
// outcomes.
func TestDefsMatchGo(t *testing.T) {
	defs := readSchemas(t)["defs.v1.json"]["$defs"].(map[string]any)
	enum := func(def string) []string {
		var out []string
		for _, v := range defs[def].(map[string]any)["enum"].([]any) {
			out = append(out, v.(string))
		}
		return out
	}
	if got := enum("agencyKind"); !slices.Equal(got, Agencies()) {
		t.Errorf("agencyKind enum %q, Agencies() %q", got, Agencies())
	}
	if got := enum("purpose"); !slices.Equal(got, Purposes()) {
		t.Errorf("purpose enum %q, Purposes() %q", got, Purposes())
	}
	wantOutcomes := []string{"be_healthy", "stay_safe", "enjoy_and_achieve", "make_a_positive_contribution", "achieve_economic_well_being"}
	if got := enum("outcome"); !slices.Equal(got, wantOutcomes) {
		t.Errorf("outcome enum %q, want %q", got, wantOutcomes)
	}
	pattern := defs["participant"].(map[string]any)["pattern"].(string)
	if want := "/(" + strings.Join(Agencies(), "|") + ")$"; !strings.HasSuffix(pattern, want) {
		t.Errorf("participant pattern %s does not end with %s", pattern, want)
	}
}

func TestLookup(t *testing.T) {
	tests := []struct {
		typ        string
		ok         bool
		index      bool
		purpose    string
		generated  bool
		publishers []string
	}{
		{typ: "uk.gov.ecm.index.child.registered.v1", ok: true, index: true, purpose: "index", publishers: Agencies()},
		{typ: "uk.gov.ecm.index.flags.set.v1", ok: true, index: true, purpose: "index", publishers: []string{LASocialCare}},
		{typ: "uk.gov.ecm.caf.completed.v1", ok: true, purpose: "caf", publishers: Agencies()},
		{typ: "uk.gov.ecm.safeguarding.referral.v1", ok: true, purpose: "safeguarding", publishers: Agencies()},
		{typ: "uk.gov.ecm.education.missing.v1", ok: true, purpose: "education", publishers: []string{LEA}},
		{typ: "uk.gov.ecm.education.exclusion.v1", ok: true, purpose: "education", publishers: []string{LEA}},
		{typ: "uk.gov.ecm.connexions.neet.v1", ok: true, purpose: "connexions", publishers: []string{Connexions}},
		{typ: "uk.gov.ecm.youthjustice.order.v1", ok: true, purpose: "youthjustice", publishers: []string{YOT}},
		{typ: "uk.gov.ecm.police.incident.v1", ok: true, purpose: "police", publishers: []string{Police}},
		{typ: "uk.gov.ecm.consent.granted.v1", ok: true, purpose: "consent", publishers: Agencies()},
		{typ: "uk.gov.ecm.index.transferred.v1", ok: true, index: true, purpose: "index", generated: true, publishers: []string{Broker}},
		{typ: "uk.gov.ecm.index.concern.matched.v1", ok: true, index: true, purpose: "index", generated: true, publishers: []string{Broker}},
		{typ: "uk.gov.ecm.index.concern.shared.v1", ok: true, index: true, purpose: "index", generated: true, publishers: []string{Broker}},
		{typ: "uk.gov.ecm.index.residence.disputed.v1", ok: true, index: true, purpose: "index", generated: true, publishers: []string{Broker}},
		{typ: "caf.completed"},
		{typ: "uk.gov.ecm.caf.completed"},
		{typ: "uk.gov.ecm.caf.completed.v2"},
		{typ: "uk.gov.ecm..v1"},
		{typ: "org.example.caf.completed.v1"},
	}
	for _, tt := range tests {
		t.Run(tt.typ, func(t *testing.T) {
			e, ok := Lookup(tt.typ)
			if ok != tt.ok {
				t.Fatalf("ok = %v, want %v", ok, tt.ok)
			}
			if !ok {
				return
			}
			if e.Index != tt.index || e.Purpose != tt.purpose || e.Generated != tt.generated || !slices.Equal(e.Publishers, tt.publishers) {
				t.Errorf("got %+v", e)
			}
			if e.Type() != tt.typ {
				t.Errorf("Type() = %s", e.Type())
			}
			for _, a := range append(Agencies(), Broker) {
				if e.MayPublish(a) != slices.Contains(tt.publishers, a) {
					t.Errorf("MayPublish(%s) = %v", a, e.MayPublish(a))
				}
			}
		})
	}
}

func TestLookupReturnsCopies(t *testing.T) {
	e, _ := Lookup("uk.gov.ecm.caf.completed.v1")
	e.Publishers[0] = Broker
	if again, _ := Lookup("uk.gov.ecm.caf.completed.v1"); again.Publishers[0] == Broker {
		t.Fatal("changing a returned entry changed the catalogue")
	}
	names := Names()
	names[0] = "x"
	if Names()[0] == "x" {
		t.Fatal("changing Names() changed the catalogue")
	}
}

// BenchmarkValidate measures the hot path on a typical small event and on
// the largest kind, a transfer of a whole index record.
func BenchmarkValidate(b *testing.B) {
	if _, err := Default(); err != nil {
		b.Fatal(err)
	}
	for _, name := range []string{"index.child.registered", "caf.completed", "index.transferred"} {
		data, err := os.ReadFile("testdata/valid/" + name + ".v1.json")
		if err != nil {
			b.Fatal(err)
		}
		typ := TypePrefix + name + TypeSuffix
		b.Run(name, func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(len(data)))
			for b.Loop() {
				if p := Validate(typ, data, fixtureNow); len(p) != 0 {
					b.Fatal(p)
				}
			}
		})
	}
}
