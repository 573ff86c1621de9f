// Package govern is how a policy becomes live and what is kept of it: every
// revision that was ever live, with its full text, how it went live (at
// start, by a reload, by an approved proposal), who proposed and approved
// it, and when it was live (revisions.go); four-eyes proposals, checked as
// the broker checks any policy, with their impact over recorded history
// and a diff to the revision they would replace (proposals.go); the live
// policy's sharing matrix in words (live.go). Proposal, approval, refusal
// and activation are actions in the hash-chained audit.
//
// In: the deployed policy at start, reloads (policy.Reloader.OnSwap),
// proposals and verdicts from the HTTP API. Out: the policy the Decider
// serves (Boot, Decider.Swap), the records in the ECM_POLICY bucket
// (wire.BucketPolicy) and the audit.
package govern
