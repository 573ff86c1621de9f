package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/ecm-broker/ecm-broker/api"
)

// verifyCmd is "ecmctl audit verify": dispatch sends "audit verify" here.
var verifyCmd = &command{
	name:    "audit verify",
	summary: "walk the audit's hash chains and signed checkpoints; exit 1 at a broken link (operator token)",
	usage: `
audit verify [--stream NAME] [--public-key KEY] [--save-heads FILE] [--expect-head FILE]

Every audit record carries the hash of the record before it in its writer's
chain, and each broker instance signs its chains' heads (Ed25519) every
minute and when it stops. This reads the whole audit stream in order and
checks every link and every checkpoint: a record changed, removed, moved or
inserted shows as a broken link. It prints the counts and the first broken
link, and exits with status 1 when there is one.

--stream verifies a copy of the audit (a stream named ECM_AUDIT_...).
--public-key trusts only that key (base64), rather than the broker's own
signing key: give the key from your records to check the broker too.

--save-heads writes, after a verification that passes, the signed head of
every chain to FILE; keep it where the broker's operators cannot change it.
--expect-head checks that the audit still reaches the heads in FILE: records
cut from the end of a chain together with the checkpoints that named them
are found only this way.

Examples:
  ecmctl audit verify
  ecmctl audit verify --stream ECM_AUDIT_COPY --public-key "$AUDIT_PUBLIC_KEY"
  ecmctl audit verify --json | jq .first_break
  ecmctl audit verify --save-heads heads-2026-12-01.json
  ecmctl audit verify --expect-head heads-2026-12-01.json`,
	run: runVerify,
}

// errChainBroken ends a verification that found a broken link.
var errChainBroken = errors.New("the audit is not as written")

func runVerify(ctx context.Context, a *app, c *command, args []string) error {
	fs := a.flagSet(c)
	stream := fs.String("stream", "", "the audit stream, or a copy of it (`NAME`, default ECM_AUDIT)")
	key := fs.String("public-key", "", "trust only checkpoints signed with this base64 Ed25519 public `KEY`")
	save := fs.String("save-heads", "", "after a verification that passes, write the signed chain heads to `FILE`")
	expect := fs.String("expect-head", "", "check that the audit still reaches the chain heads saved in `FILE` by --save-heads")
	pos, err := a.parse(c, fs, args)
	if err != nil {
		return err
	}
	if len(pos) > 0 {
		return usagef("audit verify takes no arguments, got %q", pos[0])
	}
	if err := a.needToken(); err != nil {
		return err
	}
	raw, err := a.verifyAnswer(ctx, *stream, *key, *save != "", *expect) // heads.go
	if err != nil {
		return tokenError(err, "an operator", "an operator token")
	}
	var rep api.VerifyReport
	if err := json.Unmarshal(raw, &rep); err != nil {
		return fmt.Errorf("GET /v1/audit/verify: the answer is not the expected JSON: %w", err)
	}
	if a.conn.json {
		if err := writeRaw(a.stdout, raw); err != nil {
			return err
		}
	} else {
		printVerify(a, rep)
	}
	if !rep.OK {
		b := rep.FirstBreak
		return fmt.Errorf("%w: %s: first broken link at sequence %d: %s", errChainBroken, rep.Stream, b.Seq, b.Problem)
	}
	return a.afterVerify(raw, *save, *expect)
}

func printVerify(a *app, r api.VerifyReport) {
	w := a.stdout
	fmt.Fprintf(w, "Audit %s: %s in %s, %s (last %s)\n", r.Stream, plural(r.Records, "record", "records"),
		plural(r.Chains, "chain", "chains"), plural(r.Checkpoints, "signed checkpoint", "signed checkpoints"), orDash(r.LastSigned))
	if r.Unchained > 0 {
		fmt.Fprintf(w, "%s written before chaining began (not covered)\n", plural(r.Unchained, "record", "records"))
	}
	fmt.Fprintf(w, "%d records at or below a signed head\n", r.Covered)
	if r.OK {
		fmt.Fprintln(w, "OK: every link holds and every checkpoint matches")
		return
	}
	fmt.Fprintf(w, "BROKEN: %s\n", plural(r.BreakCount, "problem", "problems"))
	t := newTable(w, "  ", "SEQ", "CHAIN", "INDEX", "PROBLEM")
	for _, b := range r.Breaks {
		t.Row(fmt.Sprint(b.Seq), orDash(b.Chain), fmt.Sprint(b.Index), b.Problem)
	}
	_ = t.Flush()
	if r.BreakCount > len(r.Breaks) {
		fmt.Fprintf(w, "  ... %d more\n", r.BreakCount-len(r.Breaks))
	}
}
