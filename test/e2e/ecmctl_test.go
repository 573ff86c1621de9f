package e2e

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ecm-broker/ecm-broker/demo"
	"github.com/ecm-broker/ecm-broker/test/testenv"
)

// ecmctl against the running broker: the operator's view of what happened
// and the explanation of a decision before anything is published.
func TestEcmctlAgainstTheBroker(t *testing.T) {
	env := runDemo(t)
	bin := filepath.Join(t.TempDir(), "ecmctl")
	if out, err := exec.Command("go", "build", "-o", bin, "../../cmd/ecmctl").CombinedOutput(); err != nil {
		t.Fatalf("building ecmctl: %v\n%s", err, out)
	}
	ecmctl := func(token string, args ...string) string {
		t.Helper()
		cmd := exec.Command(bin, append([]string{"--server", env.Base, "--token", token}, args...)...)
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("ecmctl %v: %v\n%s", args, err, out)
		}
		return string(out)
	}
	ben := demo.Children["Ben (14)"]

	// decide: Ben has withdrawn consent for health, so a new CAF would reach
	// social care on consent and be refused to health, and nothing is stored.
	caf := testenv.Event("leeds/lea", "caf.completed", ben, map[string]any{
		"needs":             []any{map[string]any{"outcome": "be_healthy", "summary": "Asthma review."}},
		"lead_professional": map[string]any{"name": "Sam Tutor", "contact": map[string]any{"phone": "0113 496 0050"}}})
	f := filepath.Join(t.TempDir(), "caf.json")
	b, _ := json.Marshal(caf)
	if err := os.WriteFile(f, b, 0o600); err != nil {
		t.Fatal(err)
	}
	out := ecmctl(demo.OperatorToken, "decide", "--event", f)
	for _, want := range []string{"leeds/la-social-care  allow", "consent", "leeds/pct", "consent-withdrawn", "leeds/lea"} {
		if !strings.Contains(out, want) {
			t.Errorf("decide output lacks %q:\n%s", want, out)
		}
	}
	before := len(env.Audit(ben))

	out = ecmctl(demo.OperatorToken, "audit", "--child", demo.Children["Cal (16)"])
	if !strings.Contains(out, "REVIEW") || !strings.Contains(out, "s12-11-override") || strings.Contains(out, demo.Children["Cal (16)"]) {
		t.Errorf("audit output (override marked, UIN masked):\n%s", out)
	}
	out = ecmctl(demo.Token("york/la-social-care"), "deliveries")
	if !strings.Contains(out, "uk.gov.ecm.index.transferred.v1") || !strings.Contains(out, "s12-move") {
		t.Errorf("york social care deliveries:\n%s", out)
	}
	if after := len(env.Audit(ben)); after != before {
		t.Errorf("decide stored something: %d audit records, then %d", before, after)
	}
}
