// Package policies holds the Rego that decides who receives what (see
// docs/policy-input.md and docs/policies.md). The broker compiles the
// embedded copy by default, or a directory given with --policies.
package policies

import "embed"

// FS holds the policy modules and their tests.
//
//go:embed *.rego
var FS embed.FS
