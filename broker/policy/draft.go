package policy

import (
	"context"
	"strings"

	"github.com/ecm-broker/ecm-broker/policies"
	"github.com/open-policy-agent/opa/v1/ast"
	"github.com/open-policy-agent/opa/v1/rego"
)

// draftDenied are builtins a draft sent over HTTP may not use: they reach
// out of the broker (network, environment) or make decisions vary.
var draftDenied = map[string]bool{"http.send": true, "net.lookup_ip_addr": true, "opa.runtime": true,
	"rand.intn": true, "time.now_ns": true, "uuid.rfc4122": true, "trace": true, "print": true}

// CompileDraft compiles a draft policy (its modules and data documents) as
// compileModules does, without the builtins of draftDenied.
func CompileDraft(ctx context.Context, modules map[string]string) (*Policy, error) {
	return compileModules(ctx, modules, DecisionQuery, DraftCapabilities())
}

// DraftCapabilities are the capabilities a draft sent over HTTP is compiled
// with (CompileDraft, and the checks of a proposal: policies.CheckDraft).
func DraftCapabilities() func(*rego.Rego) {
	caps := ast.CapabilitiesForThisVersion()
	kept := caps.Builtins[:0]
	for _, bi := range caps.Builtins {
		if !draftDenied[bi.Name] && !strings.HasPrefix(bi.Name, "net.") {
			kept = append(kept, bi)
		}
	}
	caps.Builtins = kept
	return rego.Capabilities(caps)
}

// Catalogue is the event catalogue a policy's matrix is checked against
// (the contract).
func Catalogue() policies.Catalogue { return catalogue }
