package policies

import (
	"context"
	"encoding/csv"
	"fmt"
	"io"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/open-policy-agent/opa/v1/rego"
)

// Scenario tables are tests an IG lead writes as rows of a spreadsheet and
// saves as CSV in scenarios/: the child, the event, who receives it (on which
// basis, without which fields) and who does not (and why). Each row is
// decided by the policy and must come out as written; the broker runs them
// before a policy may serve, as it runs the Rego tests, and so do go test
// ./policies/ and ecmctl policy test.
//
// The columns, in any order after a header row (a row starting with # is a
// comment):
//
//	scenario   what the row shows, in words
//	date       (optional) the event's date, YYYY-MM-DD; empty: 2026-05-02
//	age        the child's age in years at the event; empty: not known
//	area       the child's area; empty with no age: the broker holds no
//	           record of the child (the publisher's area counts)
//	flags      shielded, care_leaver, learning_difficulty
//	involved   participants with an active involvement (leeds/pct york/lea)
//	concerns   participants with an active concern flag
//	consent    entries in time order, separated by ";": "parent caf lea pct",
//	           "child caf lea until 2026-04-30", "withdrawn caf lea"
//	event      the event's name (police.incident)
//	from       the publisher (leeds/police, or broker)
//	data       the facts of the event's data the policy reads, separated by
//	           ";": "kind=domestic_abuse; child_present=true",
//	           "recipients=york/lea leeds/pct"
//	override   a written justification (s.12(11)), when there is one
//	receives   "participant basis [without field ...]", separated by ";"
//	refused    "participant basis", separated by ";"
//
// Everyone named in receives and refused is decided for, and no one else.
// Every decision must also keep the contract: a basis of the legend that
// agrees with allow, and removed fields that the event has.

// ScenarioTime is when a scenario's event happens unless its date says
// otherwise; ages count to the event's date.
const ScenarioTime = "2026-05-02T00:00:00Z"

var scenarioColumns = []string{"scenario", "date", "age", "area", "flags", "involved", "concerns", "consent", "event", "from", "data", "override", "receives", "refused"}

// Scenario is one row of a scenario table.
type Scenario struct {
	File     string
	Line     int
	Name     string
	Input    map[string]any
	Receives map[string]Expected
	Refused  map[string]string // participant -> basis
}

// Expected is a copy a participant must receive.
type Expected struct {
	Basis  string
	Remove []string
}

// ReadScenarios reads the scenario tables among a policy's files, in file
// and row order. Its problems are rows that cannot be read, with their line.
func ReadScenarios(files map[string]string) ([]Scenario, Problems) {
	var names []string
	for n := range files {
		if IsScenario(n) {
			names = append(names, n)
		}
	}
	sort.Strings(names)
	var out []Scenario
	var ps Problems
	for _, n := range names {
		s, p := readTable(n, files[n])
		out = append(out, s...)
		ps = append(ps, p...)
	}
	return out, ps
}

func readTable(name, text string) ([]Scenario, Problems) {
	r := csv.NewReader(strings.NewReader(text))
	r.Comment = '#'
	r.FieldsPerRecord = -1
	r.TrimLeadingSpace = true
	var header map[string]int
	var out []Scenario
	var ps Problems
	for {
		rec, err := r.Read()
		if err == io.EOF {
			break
		}
		line, _ := r.FieldPos(0)
		if err != nil {
			ps = append(ps, Problem{File: name, Line: line, Msg: err.Error()})
			break
		}
		if header == nil {
			header = map[string]int{}
			for i, h := range rec {
				h = strings.ToLower(strings.TrimSpace(h))
				if !slices.Contains(scenarioColumns, h) {
					ps = append(ps, Problem{File: name, Line: line, Msg: fmt.Sprintf("column %q is not one of %s", h, strings.Join(scenarioColumns, ", "))})
				}
				header[h] = i
			}
			for _, need := range []string{"scenario", "event", "from"} {
				if _, ok := header[need]; !ok {
					ps = append(ps, Problem{File: name, Line: line, Msg: "the header needs a column " + need})
				}
			}
			if len(ps) > 0 {
				return nil, ps
			}
			continue
		}
		get := func(col string) string {
			if i, ok := header[col]; ok && i < len(rec) {
				return strings.TrimSpace(rec[i])
			}
			return ""
		}
		if strings.Join(rec, "") == "" {
			continue
		}
		s, err := scenarioOf(get)
		if err != nil {
			ps = append(ps, Problem{File: name, Line: line, Msg: get("scenario") + ": " + err.Error()})
			continue
		}
		s.File, s.Line = name, line
		out = append(out, s)
	}
	return out, ps
}

func scenarioOf(get func(string) string) (Scenario, error) {
	s := Scenario{Name: get("scenario"), Receives: map[string]Expected{}, Refused: map[string]string{}}
	if s.Name == "" {
		return s, fmt.Errorf("the scenario needs a name")
	}
	event := get("event")
	if event == "" || get("from") == "" {
		return s, fmt.Errorf("event and from are needed")
	}
	data, err := eventData(get("data"))
	if err != nil {
		return s, err
	}
	at := ScenarioTime
	if d := get("date"); d != "" {
		t, err := time.Parse(time.DateOnly, d)
		if err != nil {
			return s, fmt.Errorf("date %q: write the event's date as YYYY-MM-DD", d)
		}
		at = t.Format(time.RFC3339)
	}
	ev := map[string]any{"name": event, "type": "uk.gov.ecm." + event + ".v1", "publisher": get("from"), "time": at, "data": data}
	if o := get("override"); o != "" {
		ev["override"] = o
	}
	child, err := childOf(get, at[:4])
	if err != nil {
		return s, err
	}
	consent, err := consentOf(get("consent"))
	if err != nil {
		return s, err
	}
	for _, entry := range splitList(get("receives"), ";") {
		f := strings.Fields(entry)
		if len(f) < 2 || len(f) > 2 && (f[2] != "without" || len(f) == 3) {
			return s, fmt.Errorf("receives %q: write participant basis [without field ...]", entry)
		}
		e := Expected{Basis: f[1], Remove: []string{}}
		if len(f) > 3 {
			e.Remove = f[3:]
		}
		s.Receives[f[0]] = e
	}
	for _, entry := range splitList(get("refused"), ";") {
		f := strings.Fields(entry)
		if len(f) != 2 {
			return s, fmt.Errorf("refused %q: write participant basis", entry)
		}
		if _, twice := s.Receives[f[0]]; twice {
			return s, fmt.Errorf("%s both receives and is refused", f[0])
		}
		s.Refused[f[0]] = f[1]
	}
	var cands []any
	for _, id := range append(Codes(s.Receives), Codes(s.Refused)...) {
		area, agency, ok := strings.Cut(id, "/")
		if !ok {
			return s, fmt.Errorf("%q is not a participant (area/agency)", id)
		}
		cands = append(cands, map[string]any{"id": id, "area": area, "agency": agency})
	}
	s.Input = map[string]any{"event": ev, "child": child, "consent": consent, "candidates": cands}
	return s, nil
}

func splitList(s, sep string) []string {
	var out []string
	for _, x := range strings.Split(s, sep) {
		if x = strings.TrimSpace(x); x != "" {
			out = append(out, x)
		}
	}
	return out
}

// listKeys are the data fields that hold lists.
var listKeys = map[string]bool{"recipients": true, "agencies": true, "purposes": true}

func eventData(s string) (map[string]any, error) {
	data := map[string]any{}
	for _, pair := range splitList(s, ";") {
		k, v, ok := strings.Cut(pair, "=")
		k, v = strings.TrimSpace(k), strings.TrimSpace(v)
		if !ok || k == "" {
			return nil, fmt.Errorf("data %q: write field=value", pair)
		}
		switch {
		case listKeys[k]:
			var list []any
			for _, x := range strings.Fields(v) {
				list = append(list, x)
			}
			data[k] = list
		case v == "true" || v == "false":
			data[k] = v == "true"
		default:
			data[k] = v
		}
	}
	return data, nil
}

func childOf(get func(string) string, year string) (any, error) {
	age, area := get("age"), get("area")
	if age == "" && area == "" {
		if get("flags")+get("involved")+get("concerns") != "" {
			return nil, fmt.Errorf("a child with flags, involvements or concerns needs an area")
		}
		return nil, nil // no record
	}
	if area == "" {
		return nil, fmt.Errorf("a child with an age needs an area")
	}
	child := map[string]any{"area": area}
	if age != "" {
		years, err := strconv.Atoi(age)
		if err != nil || years < 0 || years > 30 {
			return nil, fmt.Errorf("age %q is not a number of years", age)
		}
		y, _ := strconv.Atoi(year)
		child["dob"] = fmt.Sprintf("%d-01-15", y-years)
	}
	flags := map[string]any{"shielded": false, "care_leaver": false, "learning_difficulty": false}
	for _, f := range strings.FieldsFunc(get("flags"), listSep) {
		if _, ok := flags[f]; !ok {
			return nil, fmt.Errorf("flag %q is not shielded, care_leaver or learning_difficulty", f)
		}
		flags[f] = true
	}
	child["flags"] = flags
	for _, col := range []string{"involved", "concerns"} {
		var list []any
		for _, p := range strings.FieldsFunc(get(col), listSep) {
			list = append(list, map[string]any{"participant": p, "active": true})
		}
		if col == "involved" {
			col = "involvements"
		}
		child[col] = list
	}
	return child, nil
}

func listSep(r rune) bool { return r == ' ' || r == ',' || r == ';' }

// consentOf reads "parent caf lea pct; withdrawn caf lea; child caf pct until 2027-01-01",
// entries a day apart in the order written.
func consentOf(s string) (any, error) {
	entries := splitList(s, ";")
	if len(entries) == 0 {
		return nil, nil
	}
	var out []any
	for i, e := range entries {
		f := strings.Fields(e)
		until := ""
		if n := len(f); n >= 2 && f[n-2] == "until" {
			until, f = f[n-1], f[:n-2]
		}
		if len(f) < 3 {
			return nil, fmt.Errorf("consent %q: write who purpose agency ... (who: child, parent or withdrawn)", e)
		}
		entry := map[string]any{"seq": i + 1, "at": fmt.Sprintf("2026-01-%02dT09:00:00Z", 10+i), "by": "scenario",
			"purposes": []any{f[1]}, "agencies": anys(f[2:])}
		if f[0] == "withdrawn" {
			entry["kind"] = "withdrawn"
		} else {
			entry["kind"], entry["given_by"] = "granted", f[0]
		}
		if until != "" {
			entry["expires"] = until
		}
		out = append(out, entry)
	}
	return map[string]any{"entries": out}, nil
}

// ScenarioReport is what running the scenario tables found.
type ScenarioReport struct {
	Run      int
	Failures Problems // a row that did not come out as written, or broke the contract
}

// RunScenarios decides every scenario row with the compiled policy and
// compares. legend is the policy's (the built-in one when it has none).
func (c *Compiled) RunScenarios(ctx context.Context, files map[string]string, legend *Legend, cat Catalogue) (ScenarioReport, error) {
	scenarios, ps := ReadScenarios(files)
	rep := ScenarioReport{Failures: ps}
	for _, s := range scenarios {
		rep.Run++
		rs, err := c.Query.Eval(ctx, rego.EvalInput(s.Input))
		if err != nil {
			rep.Failures = append(rep.Failures, s.fail("the policy failed: %v", err))
			continue
		}
		var got map[string]any
		if len(rs) == 1 && len(rs[0].Expressions) == 1 {
			got, _ = rs[0].Expressions[0].Value.(map[string]any)
		}
		rep.Failures = append(rep.Failures, s.compare(got, legend, cat)...)
	}
	return rep, nil
}

func (s Scenario) fail(format string, args ...any) Problem {
	return Problem{File: s.File, Line: s.Line, Msg: s.Name + ": " + fmt.Sprintf(format, args...)}
}

func (s Scenario) compare(got map[string]any, legend *Legend, cat Catalogue) Problems {
	var ps Problems
	event := s.Input["event"].(map[string]any)["name"].(string)
	for _, id := range Codes(got) {
		if _, ok := s.Receives[id]; !ok {
			if _, ok := s.Refused[id]; !ok {
				ps = append(ps, s.fail("%s is decided for but not in the row", id))
			}
		}
	}
	for _, id := range append(Codes(s.Receives), Codes(s.Refused)...) {
		d, ok := got[id].(map[string]any)
		if !ok {
			ps = append(ps, s.fail("no decision for %s", id))
			continue
		}
		allow, _ := d["allow"].(bool)
		basis, _ := d["basis"].(string)
		var remove []string
		list, _ := d["remove"].([]any)
		for _, x := range list {
			p, _ := x.(string)
			remove = append(remove, p)
		}
		// The contract, for every decision.
		switch b, known := legend.Bases[basis]; {
		case !known || b.By != "":
			ps = append(ps, s.fail("%s: basis %q is not one the legend gives the policies", id, basis))
		case b.Allow != allow:
			ps = append(ps, s.fail("%s: allow is %v but basis %s %s", id, allow, basis, map[bool]string{true: "allows", false: "refuses"}[b.Allow]))
		}
		for _, p := range remove {
			if cat.HasField != nil && !cat.HasField(event, p) {
				ps = append(ps, s.fail("%s: removes %s, which %s events do not have", id, p, event))
			}
		}
		if want, ok := s.Receives[id]; ok {
			switch {
			case !allow:
				ps = append(ps, s.fail("%s is refused (%s: %v), want it to receive on %s", id, basis, d["reason"], describe(want.Basis, want.Remove)))
			case basis != want.Basis || !sameSet(remove, want.Remove):
				ps = append(ps, s.fail("%s receives on %s, want %s", id, describe(basis, remove), describe(want.Basis, want.Remove)))
			}
			continue
		}
		switch want := s.Refused[id]; {
		case allow:
			ps = append(ps, s.fail("%s receives on %s, want it refused (%s)", id, describe(basis, remove), want))
		case basis != want:
			ps = append(ps, s.fail("%s is refused on %s (%v), want %s", id, basis, d["reason"], want))
		}
	}
	return ps
}

func describe(basis string, remove []string) string {
	if len(remove) == 0 {
		return basis
	}
	return basis + " without " + strings.Join(remove, " ")
}

func sameSet(a, b []string) bool {
	a, b = slices.Clone(a), slices.Clone(b)
	sort.Strings(a)
	sort.Strings(b)
	return slices.Equal(a, b)
}
