package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"sort"
	"strings"

	"github.com/ecm-broker/ecm-broker/api"
	"github.com/ecm-broker/ecm-broker/policies"
)

// The policy commands that talk to the broker (operator token): proposals a
// second operator approves, and the revisions the broker keeps
// (broker/govern, docs/policy-guide.md).

var policyProposeCmd = &command{
	name:    "policy propose",
	summary: "put a draft policy forward for a second operator's approval (operator token, policy role)",
	usage: `
policy propose DIR --title TEXT --reason TEXT

Sends the files of DIR that differ from the live revision (and the names of
the live revision's files DIR no longer has) as a proposal. The broker
checks it as it checks any policy (the data's contract, the Rego tests, the
scenario tables, and that it keeps every test and scenario table of the
live revision), computes its impact over recorded history in the
background, and keeps it until a second operator with the policy role
approves or refuses it. Prints the proposal's id and its checks.

Examples:
  ecmctl policy check ./policies-draft && \
  ecmctl policy propose ./policies-draft --title "Stop telling schools of domestic abuse" \
      --reason "Operation Encompass tells schools directly"`,
	run: runPolicyPropose,
}

var policyProposalsCmd = &command{
	name:    "policy proposals",
	summary: "list the policy proposals, newest first (operator token)",
	usage: `
policy proposals

One line per proposal: its id, state (open, approved, refused, stale),
author, when, whether its checks pass, its impact and its title.

Examples:
  ecmctl policy proposals
  ecmctl policy proposals --json | jq '.[] | select(.state == "open")'`,
	run: runPolicyProposals,
}

var policyProposalCmd = &command{
	name:    "policy proposal",
	summary: "show one proposal: its checks, impact and diff (operator token)",
	usage: `
policy proposal ID

The proposal's checks (with every problem), the decisions it would have
changed over recorded history, its verdict when it has one, and the unified
diff from the revision it was drafted against.

Examples:
  ecmctl policy proposal p-16c3ca0ae9`,
	run: runPolicyProposal,
}

var policyApproveCmd = &command{
	name:    "policy approve",
	summary: "approve another operator's proposal: it becomes the live policy (operator token, policy role)",
	usage: `
policy approve ID --reason TEXT

Only a second operator with the policy role may approve, and only a
proposal whose checks passed, drafted against the revision live now.

Examples:
  ecmctl policy approve p-16c3ca0ae9 --reason "matrix cell and scenario rows reviewed with the DPO"`,
	run: func(ctx context.Context, a *app, c *command, args []string) error {
		return runVerdict(ctx, a, c, args, "approve")
	},
}

var policyRefuseCmd = &command{
	name:    "policy refuse",
	summary: "refuse a proposal, saying why (operator token, policy role)",
	usage: `
policy refuse ID --reason TEXT

Closes an open (or stale) proposal without making it live; the author and
the audit read the reason.

Examples:
  ecmctl policy refuse p-16c3ca0ae9 --reason "the scenario rows must show the change"`,
	run: func(ctx context.Context, a *app, c *command, args []string) error {
		return runVerdict(ctx, a, c, args, "refuse")
	},
}

var policyShowCmd = &command{
	name:    "policy show",
	summary: "show a policy revision the broker kept: how it went live, who approved it, its files (operator token)",
	usage: `
policy show REV [--file NAME]

REV is a revision id or "live". Prints how and when the revision went live,
who proposed and approved it and its files with their SHA-256; --file
prints one file's full text instead.

Examples:
  ecmctl policy show live
  ecmctl policy show 5703877a9192 --file matrix.yaml`,
	run: runPolicyShow,
}

var policyDiffCmd = &command{
	name:    "policy diff",
	summary: "the unified diff between two kept policy revisions (operator token)",
	usage: `
policy diff REV1 REV2

REV is a revision id or "live".

Examples:
  ecmctl policy diff f1e68d9c73ef live`,
	run: runPolicyDiff,
}

var policyHistoryCmd = &command{
	name:    "policy history",
	summary: "every policy revision that was live, and the audit of each proposal, approval, refusal and activation (operator token)",
	usage: `
policy history

The revisions newest first (how each went live, when, who proposed and
approved it), then the audit's records of the policy's changes, oldest
first.

Examples:
  ecmctl policy history`,
	run: runPolicyHistory,
}

func (a *app) postJSON(ctx context.Context, path string, body, out any, want int) ([]byte, error) {
	b, err := json.Marshal(body)
	if err != nil {
		return nil, err
	}
	status, data, err := a.do(ctx, http.MethodPost, path, nil, "application/json", b)
	if err != nil {
		return nil, err
	}
	if status != want {
		return nil, tokenError(newAPIError(http.MethodPost, path, status, data), "an operator", "an operator token")
	}
	if err := json.Unmarshal(data, out); err != nil {
		return nil, fmt.Errorf("POST %s: the answer is not the expected JSON: %w", path, err)
	}
	return data, nil
}

func (a *app) revision(ctx context.Context, rev string) (api.PolicyRevision, []byte, error) {
	var out api.PolicyRevision
	raw, err := a.getJSON(ctx, "/v1/policy/revisions/"+url.PathEscape(rev), nil, &out)
	if err != nil {
		return out, nil, tokenError(err, "an operator", "an operator token")
	}
	return out, raw, nil
}

func runPolicyPropose(ctx context.Context, a *app, c *command, args []string) error {
	fs := a.flagSet(c)
	title := fs.String("title", "", "what the change is, in a few words")
	reason := fs.String("reason", "", "why the change is made")
	pos, err := a.parse(c, fs, args)
	if err != nil {
		return err
	}
	dir, err := onePolicyDir(c, pos, true)
	if err != nil {
		return err
	}
	if strings.TrimSpace(*title) == "" || strings.TrimSpace(*reason) == "" {
		return usagef("policy propose needs --title and --reason: the approver reads them")
	}
	if err := a.needToken(); err != nil {
		return err
	}
	files, _, err := policyFiles(dir, true)
	if err != nil {
		return err
	}
	live, _, err := a.revision(ctx, "live")
	if err != nil {
		return err
	}
	req := api.ProposalRequest{Title: *title, Reason: *reason, Files: map[string]string{}}
	for name, src := range files {
		if old, ok := live.Files[name]; !ok || old != src {
			req.Files[name] = src
		}
	}
	for name := range live.Files {
		if _, ok := files[name]; !ok {
			req.Delete = append(req.Delete, name)
		}
	}
	sort.Strings(req.Delete)
	if len(req.Files) == 0 && len(req.Delete) == 0 {
		return fmt.Errorf("%s is the live revision %s: there is nothing to propose", dir, live.Revision)
	}
	var p api.Proposal
	raw, err := a.postJSON(ctx, "/v1/policy/proposals", req, &p, http.StatusCreated)
	if err != nil {
		return err
	}
	if a.conn.json {
		return writeRaw(a.stdout, raw)
	}
	changed := make([]string, 0, len(req.Files))
	for n := range req.Files {
		changed = append(changed, n)
	}
	sort.Strings(changed)
	fmt.Fprintf(a.stdout, "Proposal %s: %s\n", p.ID, p.Title)
	fmt.Fprintf(a.stdout, "Over the live revision %s, it changes %s", p.BaseRevision, strings.Join(changed, ", "))
	if len(req.Delete) > 0 {
		fmt.Fprintf(a.stdout, " and deletes %s", strings.Join(req.Delete, ", "))
	}
	fmt.Fprintf(a.stdout, "; it would be revision %s.\n", p.DraftRevision)
	printChecks(a, p)
	if p.ChecksPassed {
		fmt.Fprintf(a.stdout, "Its impact over recorded history is being computed (ecmctl policy proposal %s).\n", p.ID)
		fmt.Fprintf(a.stdout, "A second operator with the policy role approves it with: ecmctl policy approve %s --reason \"...\"\n", p.ID)
		return nil
	}
	return fmt.Errorf("proposal %s cannot be approved: its checks fail; correct the draft and propose it again", p.ID)
}

func printChecks(a *app, p api.Proposal) {
	verdict := "pass"
	if !p.ChecksPassed {
		verdict = "FAIL"
	}
	fmt.Fprintf(a.stdout, "Checks: %s\n", verdict)
	for _, ch := range p.Checks {
		mark := "ok  "
		if !ch.Passed {
			mark = "FAIL"
		}
		fmt.Fprintf(a.stdout, "  %s %s: %s\n", mark, ch.Name, ch.Summary)
		for _, pr := range ch.Problems {
			fmt.Fprintf(a.stdout, "         %s\n", pr)
		}
	}
}

func onlyArg(c *command, pos []string, what string) (string, error) {
	if len(pos) != 1 {
		return "", usagef("%s takes one %s (ecmctl %s -h)", c.name, what, c.name)
	}
	return pos[0], nil
}

func runPolicyProposals(ctx context.Context, a *app, c *command, args []string) error {
	fs := a.flagSet(c)
	pos, err := a.parse(c, fs, args)
	if err != nil {
		return err
	}
	if len(pos) > 0 {
		return usagef("policy proposals takes no arguments")
	}
	if err := a.needToken(); err != nil {
		return err
	}
	var ps []api.Proposal
	raw, err := a.getJSON(ctx, "/v1/policy/proposals", nil, &ps)
	if err != nil {
		return tokenError(err, "an operator", "an operator token")
	}
	if a.conn.json {
		return writeRaw(a.stdout, raw)
	}
	fmt.Fprintf(a.stdout, "%s\n", plural(len(ps), "proposal", "proposals"))
	if len(ps) == 0 {
		return nil
	}
	t := newTable(a.stdout, "", "ID", "STATE", "AUTHOR", "CREATED", "CHECKS", "IMPACT", "TITLE")
	for _, p := range ps {
		checks := "pass"
		if !p.ChecksPassed {
			checks = "fail"
		}
		t.Row(p.ID, p.State, p.Author, p.Created, checks, impactLine(p), printable(p.Title))
	}
	return t.Flush()
}

// impactLine is a proposal's impact in a few words.
func impactLine(p api.Proposal) string {
	if p.Impact == nil {
		return p.ImpactState
	}
	r := p.Impact
	return fmt.Sprintf("%s changed in %s", plural(r.ChangedDecisions, "decision", "decisions"), plural(r.ChangedEvents, "event", "events"))
}

func runPolicyProposal(ctx context.Context, a *app, c *command, args []string) error {
	fs := a.flagSet(c)
	pos, err := a.parse(c, fs, args)
	if err != nil {
		return err
	}
	id, err := onlyArg(c, pos, "proposal id")
	if err != nil {
		return err
	}
	if err := a.needToken(); err != nil {
		return err
	}
	var p api.Proposal
	raw, err := a.getJSON(ctx, "/v1/policy/proposals/"+url.PathEscape(id), nil, &p)
	if err != nil {
		return tokenError(err, "an operator", "an operator token")
	}
	if a.conn.json {
		return writeRaw(a.stdout, raw)
	}
	w := a.stdout
	fmt.Fprintf(w, "Proposal %s: %s\n", p.ID, printable(p.Title))
	fmt.Fprintf(w, "State: %s; proposed by %s at %s, over revision %s; would be revision %s\n", p.State, p.Author, p.Created, p.BaseRevision, p.DraftRevision)
	fmt.Fprintf(w, "Why: %s\n", printable(p.Reason))
	if v := p.Verdict; v != nil {
		fmt.Fprintf(w, "Verdict: %s by %s at %s: %s\n", v.Verdict, v.By, v.At, printable(v.Reason))
	}
	printChecks(a, p)
	fmt.Fprintln(w)
	if p.Impact == nil {
		fmt.Fprintf(w, "Impact over recorded history: %s\n", p.ImpactState)
	} else {
		fmt.Fprintln(w, "Impact over recorded history:")
		if err := printImpact(a, *p.Impact); err != nil {
			return err
		}
	}
	if p.Diff != "" {
		fmt.Fprintf(w, "\nDiff from revision %s:\n%s", p.BaseRevision, p.Diff)
	}
	return nil
}

func runVerdict(ctx context.Context, a *app, c *command, args []string, verb string) error {
	fs := a.flagSet(c)
	reason := fs.String("reason", "", "why, in a sentence the author and the audit can read")
	pos, err := a.parse(c, fs, args)
	if err != nil {
		return err
	}
	id, err := onlyArg(c, pos, "proposal id")
	if err != nil {
		return err
	}
	if strings.TrimSpace(*reason) == "" {
		return usagef("%s needs --reason", c.name)
	}
	if err := a.needToken(); err != nil {
		return err
	}
	var p api.Proposal
	raw, err := a.postJSON(ctx, "/v1/policy/proposals/"+url.PathEscape(id)+"/"+verb, api.ProposalVerdict{Reason: *reason}, &p, http.StatusOK)
	if err != nil {
		return err
	}
	if a.conn.json {
		return writeRaw(a.stdout, raw)
	}
	if p.State == api.ProposalApproved {
		fmt.Fprintf(a.stdout, "Proposal %s approved by %s: revision %s is live (it replaced %s).\n", p.ID, p.Verdict.By, p.DraftRevision, p.BaseRevision)
		return nil
	}
	fmt.Fprintf(a.stdout, "Proposal %s %s by %s: %s\n", p.ID, p.State, p.Verdict.By, printable(p.Verdict.Reason))
	return nil
}

func runPolicyShow(ctx context.Context, a *app, c *command, args []string) error {
	fs := a.flagSet(c)
	file := fs.String("file", "", "print this file of the revision (matrix.yaml, scenarios/sharing.csv ...)")
	pos, err := a.parse(c, fs, args)
	if err != nil {
		return err
	}
	rev, err := onlyArg(c, pos, "revision (an id or live)")
	if err != nil {
		return err
	}
	if err := a.needToken(); err != nil {
		return err
	}
	r, raw, err := a.revision(ctx, rev)
	if err != nil {
		return err
	}
	if *file != "" {
		src, ok := r.Files[*file]
		if !ok {
			return fmt.Errorf("revision %s has no file %s", r.Revision, *file)
		}
		_, err := fmt.Fprint(a.stdout, src)
		return err
	}
	if a.conn.json {
		return writeRaw(a.stdout, raw)
	}
	printRevision(a, r)
	fmt.Fprintln(a.stdout)
	t := newTable(a.stdout, "", "FILE", "BYTES", "SHA-256")
	names := make([]string, 0, len(r.Files))
	for n := range r.Files {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		t.Row(n, fmt.Sprint(len(r.Files[n])), r.FileDigests[n])
	}
	return t.Flush()
}

func printRevision(a *app, r api.PolicyRevision) {
	w := a.stdout
	until := r.LiveUntil
	if until == "" {
		until = "now (live)"
	}
	fmt.Fprintf(w, "Revision %s: %s\n", r.Revision, orDash(printable(r.Title)))
	fmt.Fprintf(w, "Went live %s (origin %s), live until %s\n", r.LiveFrom, r.Origin, until)
	if r.Proposal != "" {
		fmt.Fprintf(w, "Proposal %s, proposed by %s, approved by %s\n", r.Proposal, r.ProposedBy, r.ApprovedBy)
	}
}

func runPolicyDiff(ctx context.Context, a *app, c *command, args []string) error {
	fs := a.flagSet(c)
	pos, err := a.parse(c, fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 2 {
		return usagef("policy diff takes two revisions (ids or live)")
	}
	if err := a.needToken(); err != nil {
		return err
	}
	r1, _, err := a.revision(ctx, pos[0])
	if err != nil {
		return err
	}
	r2, _, err := a.revision(ctx, pos[1])
	if err != nil {
		return err
	}
	d := policies.Diff(r1.Revision, r2.Revision, r1.Files, r2.Files)
	if d == "" {
		fmt.Fprintf(a.stdout, "Revisions %s and %s hold the same files.\n", r1.Revision, r2.Revision)
		return nil
	}
	_, err = fmt.Fprint(a.stdout, d)
	return err
}

func runPolicyHistory(ctx context.Context, a *app, c *command, args []string) error {
	fs := a.flagSet(c)
	pos, err := a.parse(c, fs, args)
	if err != nil {
		return err
	}
	if len(pos) > 0 {
		return usagef("policy history takes no arguments")
	}
	if err := a.needToken(); err != nil {
		return err
	}
	var revs []api.PolicyRevision
	raw, err := a.getJSON(ctx, "/v1/policy/revisions", nil, &revs)
	if err != nil {
		return tokenError(err, "an operator", "an operator token")
	}
	var audit struct {
		Records []api.AuditRecord `json:"records"`
	}
	rawAudit, err := a.getJSON(ctx, "/v1/policy/audit", nil, &audit)
	if err != nil {
		return err
	}
	if a.conn.json {
		return writeRaw(a.stdout, []byte(fmt.Sprintf(`{"revisions": %s, "audit": %s}`, strings.TrimSpace(string(raw)), strings.TrimSpace(string(rawAudit)))))
	}
	w := a.stdout
	fmt.Fprintf(w, "Policy revisions, newest first (%d):\n", len(revs))
	t := newTable(w, "  ", "REVISION", "ORIGIN", "LIVE FROM", "LIVE UNTIL", "PROPOSED BY", "APPROVED BY", "TITLE")
	for _, r := range revs {
		t.Row(r.Revision, r.Origin, r.LiveFrom, orDash(r.LiveUntil), orDash(r.ProposedBy), orDash(r.ApprovedBy), orDash(printable(r.Title)))
	}
	if err := t.Flush(); err != nil {
		return err
	}
	fmt.Fprintf(w, "\nAudit of the policy's changes, oldest first (%d):\n", len(audit.Records))
	t = newTable(w, "  ", "TIME", "ACTION", "ID", "BY", "FROM", "TO", "WHY")
	for _, r := range audit.Records {
		ac := r.Action
		why := ac.Reason
		if ac.Impact != "" {
			why += " [impact: " + ac.Impact + "]"
		}
		t.Row(r.DecidedAt, ac.Kind, ac.ID, ac.By, orDash(ac.From), orDash(ac.To), printable(why))
	}
	return t.Flush()
}
