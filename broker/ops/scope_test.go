package ops

import (
	"fmt"
	"io/fs"
	"os"
	"sort"
	"strings"
	"testing"

	"github.com/ecm-broker/ecm-broker/broker/policy"
	"github.com/ecm-broker/ecm-broker/policies"
)

// The drafts here are exported for the package's external tests too.
// DraftOf is the built-in policy with edit applied to one module; the test
// fails if the text to replace is not there (the policy changed).
func DraftOf(t testing.TB, module, old, new string) map[string]string {
	t.Helper()
	mods, err := policy.ReadModules(policies.FS, false)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(mods[module], old) {
		t.Fatalf("%s no longer holds %q: update the test's draft", module, old)
	}
	mods[module] = strings.Replace(mods[module], old, new, 1)
	return mods
}

// NarrowScope is a draft with a change every event type reaches: the Act's
// scope ends at 10 (Ben, 14, and Cal, 16, fall out of it).
func NarrowScope(t testing.TB) map[string]string {
	mods := DraftOf(t, "scope.rego", "in_scope if age < 20", "in_scope if age < 10")
	if !strings.Contains(mods["scope.rego"], "in_scope if age < _scope_ends") {
		t.Fatal("scope.rego changed: update the test's draft")
	}
	mods["scope.rego"] = strings.Replace(mods["scope.rego"], "in_scope if age < _scope_ends", "in_scope if age < 10", 1)
	return mods
}

// DropPoliceNotification is the draft of the issue: the police no longer
// tell education and health of a child present at domestic abuse (rule 7),
// only children's social care. It is an edit of the sharing matrix: the
// cells of lea and pct in the police.incident row go.
func DropPoliceNotification(t testing.TB) map[string]string {
	mods := DraftOf(t, "matrix.yaml", PoliceCells, "")
	return DraftOfModules(t, mods, "matrix.yaml", "      # A school or health visitor across the boundary is the one that sees the child next day.\n"+PoliceInvolved, "")
}

// PoliceCells and PoliceInvolved are the cells of matrix.yaml that tell
// education and health of domestic abuse the child was present at.
const (
	PoliceCells = `        lea:
          when: child-present-at-domestic-abuse
          basis: police-notification
          remove: [data.summary]
          reason: "the child was present at domestic abuse: education is told, without the police summary (s.11)"
          source: CA 2004 s.11; EA 2002 s.175 via s.11(3)
          agreement: operation-encompass
        pct:
          when: child-under-5-present-at-domestic-abuse
          basis: police-notification
          remove: [data.summary]
          reason: "a child under 5 was present at domestic abuse: the PCT is told, without the police summary (s.11)"
          source: CA 2004 s.11 (health visiting)
          agreement: operation-encompass
`
	PoliceInvolved = "      involved:\n" + PoliceCells
)

// DraftOfModules applies one more edit to a draft.
func DraftOfModules(t testing.TB, mods map[string]string, module, old, new string) map[string]string {
	t.Helper()
	if !strings.Contains(mods[module], old) {
		t.Fatalf("%s no longer holds %q: update the test's draft", module, old)
	}
	mods[module] = strings.Replace(mods[module], old, new, 1)
	return mods
}

// Which event types a change reaches, by type, for the real policy.
func TestImpactScope(t *testing.T) {
	cur, _ := policy.ReadModules(policies.FS, false)
	names := []string{}
	_ = fs.WalkDir(os.DirFS("../../schemas"), ".", func(p string, d fs.DirEntry, err error) error {
		if err == nil && strings.HasSuffix(p, ".v1.json") && !strings.HasPrefix(p, "defs") {
			names = append(names, strings.TrimSuffix(p, ".v1.json"))
		}
		return nil
	})
	sort.Strings(names)
	if len(names) < 20 {
		t.Fatalf("catalogue: %v", names)
	}
	tests := []struct {
		name  string
		draft map[string]string
		want  []string // affected names; nil: all
	}{
		{"police", DropPoliceNotification(t), []string{"police.incident"}},
		{"scope", NarrowScope(t), nil},
	}
	for _, tt := range tests {
		s := newScope(cur, tt.draft)
		var got []string
		for _, n := range names {
			if s.affects(n) {
				got = append(got, n)
			}
		}
		want := tt.want
		if want == nil {
			want = names
		}
		if strings.Join(got, ",") != strings.Join(want, ",") {
			t.Errorf("%s: affects %v, want %v", tt.name, got, want)
		}
	}
}

// What the rules reachable for a type read of the input: a police incident's
// decision does not read the consent; a CAF's does.
func TestImpactInputPaths(t *testing.T) {
	mods, _ := policy.ReadModules(policies.FS, false)
	g := newRuleGraph(mods)
	for name, wantConsent := range map[string]bool{"police.incident": false, "caf.completed": true} {
		paths, all := g.inputPaths(name)
		consent := false
		for _, p := range paths {
			consent = consent || p[0] == "consent"
		}
		if all || consent != wantConsent {
			t.Errorf("%s: all %v, paths %v", name, all, paths)
		}
	}
	in := map[string]any{"event": map[string]any{"name": "x", "data": map[string]any{"kind": "a", "summary": "b"}}, "child": nil, "consent": map[string]any{"entries": []any{}}}
	got := project(in, [][]string{{"event", "data", "kind"}, {"child", "dob"}, {"event", "name"}})
	if fmt.Sprint(got) != "map[child:<nil> event:map[data:map[kind:a] name:x]]" {
		t.Errorf("projection %v", got)
	}
}
