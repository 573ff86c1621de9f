package deploy

import (
	"encoding/json"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"

	"github.com/ecm-broker/ecm-broker/broker"
	"github.com/ecm-broker/ecm-broker/broker/httpapi"
	"github.com/ecm-broker/ecm-broker/demo"
	"github.com/ecm-broker/ecm-broker/policies"
	"github.com/ecm-broker/ecm-broker/test/testenv"
	"gopkg.in/yaml.v3"
)

const (
	alertsFile    = "deploy/prometheus/alerts.yml"
	dashboardFile = "deploy/grafana/dashboards/ecm-broker.json"
	provisionFile = "deploy/grafana/provisioning/dashboards.yaml"
	operationsDoc = "docs/operations.md"
)

// root is the repository root, two levels above this package.
func root(t *testing.T, rel string) string {
	t.Helper()
	p, err := filepath.Abs(filepath.Join("..", "..", rel))
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func readFile(t *testing.T, rel string) []byte {
	t.Helper()
	b, err := os.ReadFile(root(t, rel))
	if err != nil {
		t.Fatalf("%s is missing: %v", rel, err)
	}
	return b
}

type rule struct {
	Alert       string            `yaml:"alert"`
	Record      string            `yaml:"record"`
	Expr        string            `yaml:"expr"`
	Labels      map[string]string `yaml:"labels"`
	Annotations map[string]string `yaml:"annotations"`
}

type ruleFile struct {
	Groups []struct {
		Name  string `yaml:"name"`
		Rules []rule `yaml:"rules"`
	} `yaml:"groups"`
}

type dashboard struct {
	Title  string  `json:"title"`
	Panels []panel `json:"panels"`
}

type panel struct {
	Title   string  `json:"title"`
	Type    string  `json:"type"`
	Panels  []panel `json:"panels"` // a collapsed row holds its panels
	Targets []struct {
		RefID string `json:"refId"`
		Expr  string `json:"expr"`
	} `json:"targets"`
}

var (
	// stringLit is a PromQL string: label values, never series names.
	stringLit = regexp.MustCompile(`"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*'|` + "`[^`]*`")
	// braces are label matchers; a series name is never inside them.
	braces = regexp.MustCompile(`\{[^{}]*\}`)
	// duration is a range or offset ([5m], offset 1h), and $vars are Grafana's.
	brackets = regexp.MustCompile(`\[[^\]]*\]|\$\{?[A-Za-z_][A-Za-z0-9_]*\}?`)
	ident    = regexp.MustCompile(`[A-Za-z_:][A-Za-z0-9_:]*`)
)

// seriesIn lists the broker's series an expression names: identifiers that
// begin ecm_ or nats_, and up. Functions, keywords and label names (in by(),
// on(), without()) begin otherwise, so they are left out.
func seriesIn(expr string) []string {
	e := stringLit.ReplaceAllString(expr, `""`)
	e = braces.ReplaceAllString(e, " ")
	e = brackets.ReplaceAllString(e, " ")
	seen := map[string]bool{}
	var out []string
	for _, id := range ident.FindAllString(e, -1) {
		if (strings.HasPrefix(id, "ecm_") || strings.HasPrefix(id, "nats_") || id == "up") && !seen[id] {
			seen[id] = true
			out = append(out, id)
		}
	}
	return out
}

func TestSeriesIn(t *testing.T) {
	for expr, want := range map[string]string{
		`up{job="ecm-broker"} == 0`: "up",
		`histogram_quantile(0.99, sum by (le) (rate(ecm_decision_seconds_bucket{instance=~"$instance"}[$__rate_interval])))`:               "ecm_decision_seconds_bucket",
		`sum by (instance, publisher) (increase(ecm_deadlettered_total{publisher="ecm_x"}[15m])) > 10 and on(instance) ecm_delivery_limit`: "ecm_deadlettered_total ecm_delivery_limit",
		`time() - ecm_audit_verify_last_run_timestamp_seconds > 7200`:                                                                      "ecm_audit_verify_last_run_timestamp_seconds",
	} {
		if got := strings.Join(seriesIn(expr), " "); got != want {
			t.Errorf("seriesIn(%s) = %q, want %q", expr, got, want)
		}
	}
}

// exposed scrapes the broker's /metrics, as Prometheus does, and returns
// the family names it shows (# TYPE lines).
func exposed(t *testing.T, env *testenv.Env) map[string]string {
	t.Helper()
	resp, err := http.Get("http://" + env.Broker.MetricsAddr() + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("/metrics: %d %s", resp.StatusCode, body)
	}
	out := map[string]string{}
	for _, l := range strings.Split(string(body), "\n") {
		if f := strings.Fields(l); len(f) == 4 && f[0] == "#" && f[1] == "TYPE" {
			out[f[2]] = f[3]
		}
	}
	return out
}

// known says whether name is a series the broker exposes: a family, or the
// _bucket, _sum or _count of a histogram (or summary). up is Prometheus's own.
func known(families map[string]string, name string) bool {
	if name == "up" {
		return true
	}
	if _, ok := families[name]; ok {
		return true
	}
	for _, suf := range []string{"_bucket", "_sum", "_count"} {
		if base, ok := strings.CutSuffix(name, suf); ok {
			if typ := families[base]; typ == "histogram" || (typ == "summary" && suf != "_bucket") {
				return true
			}
		}
	}
	return false
}

// busyBroker is a real broker that has done every thing a series counts, so
// that each vector has a child on /metrics: the demo's events (delivered,
// denied, a decision timed), a delivery limit of one (copies refused), an
// input rejected, a read, a policy reload refused, wrong tokens until
// throttled.
func busyBroker(t *testing.T) map[string]string {
	cfg := demo.Config()
	cfg.DeliveryLimits.MaxPerParticipant = 1
	policyDir := t.TempDir()
	if err := os.CopyFS(policyDir, policies.FS); err != nil {
		t.Fatal(err)
	}
	env := testenv.StartWith(t, broker.Options{Config: cfg, MetricsAddr: "127.0.0.1:0", PolicyDir: policyDir,
		HTTPLimits: httpapi.Limits{AuthFailures: httpapi.Throttle{Burst: 2}}})
	for _, s := range demo.Steps() {
		ev := testenv.Event(s.From, s.Name, demo.Children[s.Child], s.Data)
		if s.Override != "" {
			ev["override"] = s.Override
		}
		env.MustPublish(s.From, ev)
	}
	bad := testenv.Event("leeds/lea", "no-such-event", demo.Children["Amy (4)"], map[string]any{})
	env.Publish("leeds/lea", bad)
	env.WaitIdle()
	env.Deliveries("leeds/lea")
	if err := os.WriteFile(filepath.Join(policyDir, "broken.rego"), []byte("package ecm\n\nbroken := {\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if r := env.Do("POST", "/v1/policy/reload", demo.OperatorToken, "", nil); r.Code != http.StatusUnprocessableEntity {
		t.Fatalf("reloading a policy that does not compile: %d %s, want 422", r.Code, r.Body)
	}
	for range 5 {
		env.Do("GET", "/v1/audit", "a-token-that-names-nobody", "", nil)
	}
	return exposed(t, env)
}

// Every series alerts.yml and the dashboard name is one the broker exposes;
// every alert has a severity, a summary, a description and a runbook that
// points at a heading of docs/operations.md.
func TestDeployNamesRealSeries(t *testing.T) {
	alertsRaw := readFile(t, alertsFile)
	dashRaw := readFile(t, dashboardFile)
	provRaw := readFile(t, provisionFile)
	anchors := docAnchors(string(readFile(t, operationsDoc)))

	var rules ruleFile
	if err := yaml.Unmarshal(alertsRaw, &rules); err != nil {
		t.Fatalf("%s: %v", alertsFile, err)
	}
	var dash dashboard
	if err := json.Unmarshal(dashRaw, &dash); err != nil {
		t.Fatalf("%s: %v", dashboardFile, err)
	}
	var prov struct {
		Providers []struct {
			Type    string         `yaml:"type"`
			Options map[string]any `yaml:"options"`
		} `yaml:"providers"`
	}
	if err := yaml.Unmarshal(provRaw, &prov); err != nil || len(prov.Providers) == 0 || prov.Providers[0].Type != "file" || prov.Providers[0].Options["path"] == nil {
		t.Errorf("%s: want a file provider with a path (%v)", provisionFile, err)
	}

	families := busyBroker(t)
	for _, want := range []string{"ecm_events_in_total", "ecm_decision_seconds", "ecm_audit_chain_broken"} {
		if _, ok := families[want]; !ok {
			t.Fatalf("the broker's /metrics lacks %s: the scrape is not what it should be (%d families)", want, len(families))
		}
	}
	used := map[string]bool{}
	check := func(where, expr string) {
		names := seriesIn(expr)
		if len(names) == 0 {
			t.Errorf("%s: %q names no ecm_, nats_ or up series", where, expr)
		}
		for _, n := range names {
			used[n] = true
			if !known(families, n) {
				t.Errorf("%s uses %s, which the broker does not expose on /metrics", where, n)
			}
		}
	}

	alerts := 0
	for _, g := range rules.Groups {
		for _, r := range g.Rules {
			name := r.Alert + r.Record
			where := "alert " + name
			check(where, r.Expr)
			if r.Alert == "" {
				continue
			}
			alerts++
			if s := r.Labels["severity"]; s != "critical" && s != "warning" && s != "info" {
				t.Errorf("%s: severity %q, want critical, warning or info", where, s)
			}
			for _, a := range []string{"summary", "description", "runbook"} {
				if strings.TrimSpace(r.Annotations[a]) == "" {
					t.Errorf("%s has no %s", where, a)
				}
			}
			doc, anchor, ok := strings.Cut(r.Annotations["runbook"], "#")
			if !ok || doc != operationsDoc || !anchors[anchor] {
				t.Errorf("%s: runbook %q is not a heading of %s", where, r.Annotations["runbook"], operationsDoc)
			}
		}
	}
	if alerts < 6 {
		t.Errorf("%s has %d alerts; want at least broker down, audit broken, deliveries stopped, reload refused, dead letters, throttling", alertsFile, alerts)
	}

	var walk func([]panel)
	targets := 0
	walk = func(ps []panel) {
		for _, p := range ps {
			walk(p.Panels)
			for _, tg := range p.Targets {
				targets++
				check("panel "+p.Title+" ("+tg.RefID+")", tg.Expr)
			}
		}
	}
	walk(dash.Panels)
	if targets == 0 {
		t.Errorf("%s has no queries", dashboardFile)
	}

	var names []string
	for n := range used {
		names = append(names, n)
	}
	sort.Strings(names)
	t.Logf("%d alerts, %d panel queries, series used: %s", alerts, targets, strings.Join(names, " "))
}

// docAnchors lists the GitHub anchors of the headings of a Markdown file
// and of explicit <a id="..."> anchors.
func docAnchors(md string) map[string]bool {
	out := map[string]bool{}
	for _, m := range regexp.MustCompile(`<a (?:id|name)="([^"]+)"`).FindAllStringSubmatch(md, -1) {
		out[m[1]] = true
	}
	for _, l := range strings.Split(md, "\n") {
		if !strings.HasPrefix(l, "#") {
			continue
		}
		h := strings.ToLower(strings.TrimSpace(strings.TrimLeft(l, "#")))
		var b strings.Builder
		for _, r := range h {
			switch {
			case r == ' ':
				b.WriteRune('-')
			case r == '-' || r == '_' || r >= 'a' && r <= 'z' || r >= '0' && r <= '9':
				b.WriteRune(r)
			}
		}
		out[b.String()] = true
	}
	return out
}
