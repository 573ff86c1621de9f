package main

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ecm-broker/ecm-broker/policies"
)

// draftDir writes the built-in policy (with its tests and scenario tables)
// to a directory, as an IG lead's draft starts.
func draftDir(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	files, err := policies.Read(policies.FS, true)
	if err != nil {
		t.Fatal(err)
	}
	for name, src := range files {
		p := filepath.Join(dir, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o700); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(src), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func editFile(t *testing.T, path, old, new string) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(b), old) {
		t.Fatalf("%s no longer holds %q", path, old)
	}
	if err := os.WriteFile(path, []byte(strings.Replace(string(b), old, new, 1)), 0o600); err != nil {
		t.Fatal(err)
	}
}

func policyCLI(args ...string) result {
	return runCLI(context.Background(), map[string]string{}, "", args...)
}

func TestPolicyMatrix(t *testing.T) {
	r := policyCLI("policy", "matrix")
	for _, want := range []string{
		"Sharing matrix, revision 2 (the built-in policy)",
		"police.incident", "area: education (LEA and schools)", "police-notification without data.summary", "child-present-at-domestic-abuse",
		"index.gp.recorded", "as index.child.registered",
		"no-relationship, whatever the matrix says",
		"s12-11-override", "sends", "CA 2004 s.12(11)",
		"police-notification without data.summary under agreement operation-encompass",
		"Data sharing agreements (agreements.yaml): 1,", "DPIA-ECM-2026-007",
	} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("matrix lacks %q", want)
		}
	}
	if r.code != 0 || r.stderr != "" {
		t.Fatalf("%d %s", r.code, r.stderr)
	}
	html := filepath.Join(t.TempDir(), "matrix.html")
	dir := draftDir(t)
	editFile(t, filepath.Join(dir, "matrix.yaml"), "reason: a referral goes to children's social care of the child's area, without consent (s.11)",
		"reason: a referral goes to children's social care <b>now</b>, without consent (s.11)")
	if r := policyCLI("policy", "matrix", dir, "--html", html); r.code != 0 || !strings.Contains(r.stdout, "revision 2, 24 event types") {
		t.Fatalf("%d %s %s", r.code, r.stdout, r.stderr)
	}
	page, _ := os.ReadFile(html)
	for _, want := range []string{"<title>Sharing matrix, revision 2</title>", "<h2>Data sharing agreements</h2>", "under agreement operation-encompass", "<th>education (LEA and schools)</th>", "without data.summary",
		"&lt;b&gt;now&lt;/b&gt;", "in words for a family", "consent-child-under-12", "@page"} {
		if !strings.Contains(string(page), want) {
			t.Errorf("page lacks %q", want)
		}
	}
	if r := policyCLI("policy", "matrix", "--json"); r.code != 0 || !strings.Contains(r.stdout, `"legend": {`) {
		t.Errorf("--json: %d %s", r.code, r.stderr)
	}
	if r := policyCLI("policy", "matrix", "a", "b"); r.code != 1 || !strings.Contains(r.stderr, "one policy directory") {
		t.Errorf("two dirs: %+v", r)
	}
}

func TestPolicyTestAndCheck(t *testing.T) {
	dir := draftDir(t)
	r := policyCLI("policy", "test", dir)
	if r.code != 0 || !strings.Contains(r.stdout, "scenario rows") {
		t.Fatalf("test: %+v", r)
	}
	r = policyCLI("policy", "check", dir)
	if r.code != 0 || !strings.HasPrefix(r.stdout, "accepted: matrix revision 2 keeps the contract") {
		t.Fatalf("check: %+v", r)
	}
	if r := policyCLI("policy", "check"); r.code != 1 || !strings.Contains(r.stderr, "needs a policy directory") {
		t.Errorf("no dir: %+v", r)
	}

	// An unknown basis: refused, naming the file, line and cell.
	bad := draftDir(t)
	editFile(t, filepath.Join(bad, "matrix.yaml"), "          when: child-present-at-domestic-abuse\n          basis: police-notification",
		"          when: child-present-at-domestic-abuse\n          basis: police-tip-off")
	r = policyCLI("policy", "check", bad)
	first, _, _ := strings.Cut(r.stdout, "\n")
	if r.code != 1 || !strings.HasPrefix(first, "refused: the matrix or legend has 1 problem, the first matrix.yaml:") ||
		!strings.Contains(first, `police.incident / area / lea: basis "police-tip-off" is not in the legend`) {
		t.Errorf("unknown basis: %+v", r)
	}
	if r := policyCLI("policy", "matrix", bad); r.code != 1 || !strings.Contains(r.stderr, "police-tip-off") {
		t.Errorf("matrix of a broken draft: %+v", r)
	}

	// A Rego test broken: refused, with the count and the test.
	broken := draftDir(t)
	editFile(t, filepath.Join(broken, "police_test.rego"), `object.keys(r.local) == {"la-social-care", "lea"}`, `object.keys(r.local) == {"la-social-care"}`)
	r = policyCLI("policy", "check", broken)
	if r.code != 1 || !strings.HasPrefix(r.stdout, "refused: 1 of 125 tests fail") || !strings.Contains(r.stdout, "test failed: data.ecm.police_test.") {
		t.Errorf("failing tests: %+v", r)
	}
}

// docs/policy-guide.md, offline: stop telling schools of domestic abuse. The
// matrix changes in two cells; the scenario rows that expect schools to be
// told fail until the IG lead rewrites them to show the change; then the
// draft would be accepted (the Rego tests of the mechanics pin the first
// revision of the matrix, so none of them stands in the way).
func TestPolicyGuideWalkThrough(t *testing.T) {
	dir := draftDir(t)
	stopTellingSchools(t, dir, false)
	r := policyCLI("policy", "check", dir)
	if r.code != 1 || !strings.HasPrefix(r.stdout, "refused:") || !strings.Contains(r.stdout, "scenario failure") ||
		!strings.Contains(r.stdout, "leeds/lea is refused (no-rule") {
		t.Fatalf("before the rows are changed: %+v", r)
	}
	stopTellingSchools(t, dir, true)
	r = policyCLI("policy", "check", dir)
	if r.code != 0 || !strings.HasPrefix(r.stdout, "accepted: matrix revision 3 keeps the contract, 125 tests and 30 scenario rows pass") {
		t.Errorf("after the rows show the change: %+v", r)
	}
}

// stopTellingSchools is the change of docs/policy-guide.md in a draft: the
// two cells of the matrix that tell education of domestic abuse removed
// (rows false), or the scenario rows that show it rewritten (rows true).
func stopTellingSchools(t *testing.T, dir string, rows bool) {
	t.Helper()
	if !rows {
		matrix := filepath.Join(dir, "matrix.yaml")
		for range 2 { // the cells of the area and involved columns
			editFile(t, matrix, `        lea:
          when: child-present-at-domestic-abuse
          basis: police-notification
          remove: [data.summary]
          reason: "the child was present at domestic abuse: education is told, without the police summary (s.11)"
          source: CA 2004 s.11; EA 2002 s.175 via s.11(3)
          agreement: operation-encompass
`, "")
		}
		editFile(t, matrix, "  revision: 2\n", "  revision: 3\n")
		return
	}
	table := filepath.Join(dir, "scenarios", "sharing.csv")
	editFile(t, table, "leeds/lea police-notification without data.summary; leeds/pct police-notification without data.summary; york/lea police-notification without data.summary,leeds/police no-rule",
		"leeds/pct police-notification without data.summary,leeds/lea no-rule; york/lea no-rule; leeds/police no-rule")
	editFile(t, table, "leeds/la-social-care police-notification; leeds/lea police-notification without data.summary,leeds/pct no-rule",
		"leeds/la-social-care police-notification,leeds/lea no-rule; leeds/pct no-rule")
	editFile(t, table, "york/la-social-care police-notification; york/lea police-notification without data.summary,york/pct no-rule",
		"york/la-social-care police-notification,york/lea no-rule; york/pct no-rule")
	editFile(t, table, "leeds/lea agreement-lapsed; leeds/pct no-rule,2028-04-03", "leeds/lea no-rule; leeds/pct no-rule,2028-04-03")
}
