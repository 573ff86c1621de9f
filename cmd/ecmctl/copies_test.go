package main

import (
	"net/http"
	"strings"
	"testing"

	"github.com/ecm-broker/ecm-broker/api"
)

// A record of copies shows each copy as stored or refused, never "sent to
// nobody".
func TestAuditShowsCopies(t *testing.T) {
	fb := auditBroker(t, []api.AuditRecord{{EventID: "e-1", Source: "/leeds/pct", Type: "uk.gov.ecm.index.address.changed.v1", Child: amy,
		DecidedAt: "2026-11-20T22:10:01Z", PolicyRevision: "r7", Outcome: "copies", Decisions: []api.Decision{}, Copies: []api.Copy{
			{Participant: "leeds/la-social-care", Status: "delivered", DeliverySeq: 12, Basis: "s12-index", Removed: []string{}},
			{Participant: "leeds/lea", Status: "refused", Reason: "not delivered: leeds/lea already held 4 copies", Basis: "s12-index",
				Removed: []string{"data.address"}},
		}}})
	res := runAs(t, fb, operatorToken, "audit", "--child", amy)
	if res.code != 0 {
		t.Fatalf("exit %d: %s", res.code, res.stderr)
	}
	for _, want := range []string{"copies", "leeds/la-social-care  stored at 12", "REFUSED: not delivered: leeds/lea already held 4 copies", "data.address"} {
		if !strings.Contains(res.stdout, want) {
			t.Errorf("output lacks %q:\n%s", want, res.stdout)
		}
	}
	if strings.Contains(res.stdout, "sent to nobody") {
		t.Errorf("a record of copies shown as sent to nobody:\n%s", res.stdout)
	}
}

// A subject access report ends with the copies allowed but refused.
func TestSARShowsRefusedCopies(t *testing.T) {
	fb := newFakeBroker(t, map[string]http.HandlerFunc{
		"GET /v1/sar": func(w http.ResponseWriter, r *http.Request) {
			writeJSON(w, 200, api.SubjectAccess{Child: amy, Events: []api.HeldEvent{}, Rejected: []api.HeldRejection{},
				Decisions: []api.AuditRecord{}, Disclosures: []api.Disclosure{}, Refused: []api.Disclosure{
					{Participant: "leeds/lea", Type: "uk.gov.ecm.index.address.changed.v1", DecidedAt: "2026-01-01T00:00:01Z", Status: "refused",
						RefusedReason: "not delivered: leeds/lea already held 4 copies", ResolvedBy: "r9"}}})
		},
	})
	res := runAs(t, fb, operatorToken, "sar", "--child", amy)
	if res.code != 0 {
		t.Fatalf("exit %d: %s", res.code, res.stderr)
	}
	for _, want := range []string{"6. Disclosures (0)", "7. Copies allowed but refused, not disclosed (1)",
		"leeds/lea  uk.gov.ecm.index.address.changed.v1  not delivered: leeds/lea already held 4 copies  r9"} {
		if !strings.Contains(res.stdout, want) {
			t.Errorf("report lacks %q:\n%s", want, res.stdout)
		}
	}
}
