package ops

import (
	"errors"
	"strings"
	"testing"

	"github.com/ecm-broker/ecm-broker/api"
)

func TestCheckErasureReason(t *testing.T) {
	x := &api.IndexRecord{UIN: "9434765919", Name: map[string]any{"given": "Amy", "family": "Featherstonehaugh"}, DOB: "2013-07-21",
		Address: map[string]any{"lines": []any{"14 Park Row"}, "postcode": "LS7 3QB"}}
	tests := []struct {
		reason string
		kind   string // "" when the reason is fine
	}{
		{"retention period ended (ticket IG-1234)", ""},
		{"subject asked for erasure, DPA request 2026/118", ""},
		{"erasing 9434765919 as asked", "UIN"},
		{"erasing 943 476 5919 as asked", "UIN"},
		{"erasing 943-476-5919", "UIN"},
		{"ref 9434765919123", "UIN"},
		{"asked by Amy's mother", "given name"},
		{"asked by AMY herself", "given name"},
		{"amy", "given name"},
		{"the family (featherstonehaugh) asked", "family name"},
		{"Featherstonehaugh", "family name"},
		{"an amicable request from the family", ""}, // "amy" only inside a word
		{"dreamy request", ""},
		{"born 2013-07-21, asked", "date of birth"},
		{"born 21/07/2013", "date of birth"},
		{"born 21/7/2013", "date of birth"},
		{"born 21.07.2013", "date of birth"},
		{"born 21-07-2013", "date of birth"},
		{"ticket 121/07/20131", ""},
		{"moved from LS7 3QB", "postcode"},
		{"moved from ls73qb", "postcode"},
		{"moved from Ls7  3qB.", "postcode"},
		{"moved from LS7 3QBX", ""},
		{"codes ALS7 3QB", ""},
	}
	for _, tt := range tests {
		err := checkErasureReason(tt.reason, x)
		switch {
		case tt.kind == "" && err != nil:
			t.Errorf("%q: refused: %v", tt.reason, err)
		case tt.kind != "" && (err == nil || !errors.Is(err, ErrReasonNamesChild) || !strings.Contains(err.Error(), "child's "+tt.kind)):
			t.Errorf("%q: %v, want a refusal naming the %s", tt.reason, err, tt.kind)
		}
		if err != nil {
			for _, d := range []string{"9434765919", "Amy", "Featherstonehaugh", "2013-07-21", "LS7 3QB"} {
				if strings.Contains(err.Error(), d) {
					t.Errorf("%q: the error repeats %q: %v", tt.reason, d, err)
				}
			}
		}
	}
	// Names of several words match as a whole; a record without a name,
	// a date of birth or an address is checked on what it has.
	multi := &api.IndexRecord{UIN: "9434765870", Name: map[string]any{"given": "Mary Ann", "family": "van der Berg"}}
	for reason, refused := range map[string]bool{
		"asked by mary  ann's carer": true, "the Van Der Berg family asked": true, "moved by van to Leeds": false, "Ann asked": false,
		"no details held about 9434765919": false, "erase 9434765870 now": true,
	} {
		if err := checkErasureReason(reason, multi); (err != nil) != refused {
			t.Errorf("%q: %v, want refused %v", reason, err, refused)
		}
	}
	if err := checkErasureReason("anything at all", &api.IndexRecord{UIN: "9434765919", Name: "not an object", Address: 7}); err != nil {
		t.Errorf("odd record: %v", err)
	}
	if err := checkErasureReason("A", &api.IndexRecord{Name: map[string]any{"given": "A"}}); err != nil {
		t.Errorf("one-letter name: %v", err)
	}
}
