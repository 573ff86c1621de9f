// Package ops holds what operators and IG leads do with the record: replay a
// participant's history, analyse a draft policy's impact, export everything
// held about a child (subject access) and who received a publisher's events
// (disclosures) and release it reviewed (sarreview.go), erase a child, sweep
// what retention says is due, explain a decision (for a held or a given
// state: what-if), and keep what operators did about dead letters
// (triage.go). Each reads the stores and the audit, decides through the one
// policy.Decider, and writes its own audit action before it reports done. In:
// a request from the HTTP API. Out: the api shapes it answers with.
package ops
