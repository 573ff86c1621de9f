// Package policies is the sharing policy: the Rego that decides who receives
// what (docs/policy-input.md, docs/policies.md), the sharing matrix an IG
// lead edits and its legend (matrix.yaml, legend.yaml; docs/policy-guide.md),
// their tests and scenario tables. The broker compiles the embedded copy by
// default, or a directory given with --policies.
//
// Its Go reads a policy's files (Read), loads and checks its data with line
// numbers (LoadData, Data.Check: the contract), compiles it with its data and
// the matrix's prebuilt rule objects (Compile), runs its Rego tests against
// its data (Compiled.Test) and its scenario tables (Compiled.RunScenarios).
// The broker (broker/policy) and ecmctl's offline policy commands share it,
// so that a draft checked offline is refused or accepted as the broker would.
// In: a policy's files. Out: a compiled policy, or problems with file and line.
package policies

import "embed"

// FS holds the policy modules and their tests, the data files they read
// (matrix.yaml, legend.yaml), the JSON Schemas of those (schema/) and the
// scenario tables (scenarios/).
//
//go:embed *.rego *.yaml schema scenarios testdata
var FS embed.FS
