// Package policies holds the Rego that decides who receives what (see
// docs/policy-input.md and docs/policies.md). The broker compiles the
// embedded copy by default, or a directory given with --policies.
package policies

import "embed"

// FS holds the policy modules and their tests, the data files they read
// (matrix.yaml, legend.yaml) and the JSON Schemas of those (schema/).
//
//go:embed *.rego *.yaml schema
var FS embed.FS
