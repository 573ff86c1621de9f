package main

// Chain heads kept outside the broker: "audit verify --save-heads FILE"
// writes the signed heads of an audit that verified, "--expect-head FILE"
// checks a later audit (or a copy) still reaches them. The stream's own
// checkpoints cannot show records cut from its end together with every
// checkpoint that named them; a file the broker's operators cannot change
// can (docs/operations.md, "Heads kept outside the broker").

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"time"

	"github.com/ecm-broker/ecm-broker/api"
)

// verifyAnswer asks the broker to verify stream (default ECM_AUDIT), trusting
// only key when given, answering with the signed heads when heads is set,
// and against the heads saved in the file expect when given.
func (a *app) verifyAnswer(ctx context.Context, stream, key string, heads bool, expect string) (json.RawMessage, error) {
	if expect == "" {
		q := url.Values{}
		if stream != "" {
			q.Set("stream", stream)
		}
		if key != "" {
			q.Set("public_key", key)
		}
		if heads {
			q.Set("heads", "true")
		}
		return a.stream(ctx, http.MethodGet, "/v1/audit/verify", q, nil)
	}
	saved, err := readHeads(expect)
	if err != nil {
		return nil, err
	}
	body, err := json.Marshal(api.VerifyRequest{Stream: stream, PublicKey: key, ExpectHeads: saved.Heads, Heads: heads})
	if err != nil {
		return nil, err
	}
	return a.stream(ctx, http.MethodPost, "/v1/audit/verify", nil, body)
}

// readHeads reads a file written by --save-heads.
func readHeads(name string) (api.AuditHeads, error) {
	var h api.AuditHeads
	data, err := os.ReadFile(name)
	if err != nil {
		return h, fmt.Errorf("--expect-head: %w", err)
	}
	if err := json.Unmarshal(data, &h); err != nil {
		return h, fmt.Errorf("--expect-head %s: not a file written by --save-heads: %w", name, err)
	}
	if len(h.Heads) == 0 {
		return h, fmt.Errorf("--expect-head %s: holds no chain heads", name)
	}
	return h, nil
}

// afterVerify prints which saved heads the audit was checked against and,
// for --save-heads, writes the report's signed heads to a file. raw is the
// report of an audit that verified.
func (a *app) afterVerify(raw json.RawMessage, save, expect string) error {
	var rep api.VerifyReport
	if err := json.Unmarshal(raw, &rep); err != nil {
		return fmt.Errorf("GET /v1/audit/verify: the answer is not the expected JSON: %w", err)
	}
	if expect != "" && !a.conn.json {
		fmt.Fprintf(a.stdout, "OK: the audit still reaches the %d chain heads saved in %s\n", rep.ExpectedHeads, expect)
	}
	if save == "" {
		return nil
	}
	if len(rep.SignedHeads) == 0 {
		return fmt.Errorf("--save-heads: the audit has no signed checkpoint yet, so there is no head to save; try again after audit_checkpoint_every")
	}
	out := api.AuditHeads{Stream: rep.Stream, SavedAt: time.Now().UTC().Format(time.RFC3339), LastCheckpoint: rep.LastSigned,
		Records: rep.Records, Heads: rep.SignedHeads}
	data, err := json.MarshalIndent(out, "", "  ")
	if err != nil {
		return err
	}
	if err := os.WriteFile(save, append(data, '\n'), 0o644); err != nil {
		return fmt.Errorf("--save-heads: %w", err)
	}
	fmt.Fprintf(a.stderr, "saved %d signed chain heads (last checkpoint %s) to %s: keep it where the broker's operators cannot change it\n",
		len(out.Heads), orDash(out.LastCheckpoint), save)
	return nil
}
