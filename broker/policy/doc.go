// Package policy is where sharing decisions are made. It compiles the Rego
// modules (and runs their own tests before a policy may serve), selects the
// candidates of an event from the registry, builds the policy input from only
// what a decision may depend on (docs/policy-input.md), and evaluates it once
// per event through Decider.Decide: the single entry point the pipeline,
// explain, replay and impact share, with the decision cache and fail-closed
// handling inside. In: an event and the child's state. Out: one decision per
// candidate and the policy revision. Reloader swaps in a changed policy.
package policy
