package adapters_test

import (
	"errors"
	"io"
	"strings"
	"testing"

	"github.com/ecm-broker/ecm-broker/adapters"
	"github.com/ecm-broker/ecm-broker/adapters/connexions"
	"github.com/ecm-broker/ecm-broker/adapters/police"
	"github.com/ecm-broker/ecm-broker/adapters/yot"
)

// Each agency's code book is replaced by a file of the agency's own: what it
// lists maps, what it does not is rejected naming the code and the book.
func TestReplacedCodeBooks(t *testing.T) {
	book := func(name, csv string, values []string) *adapters.CodeBook {
		b, err := adapters.ParseCodeBook(name, strings.NewReader(csv), values...)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	const child = `"uin":"4010234563"`
	tests := []struct {
		name   string
		agency adapters.Agency
		hint   string
		export string
		want   string // a substring of the first event's data, or of the reject
	}{
		{"police: a force's own category", police.Agency{Kinds: book("wy-kinds.csv", "code,maps_to\nBREACH OF THE PEACE,other\nDA,domestic_abuse\n", police.Kinds)},
			"x.json", `{"incident_id":"I-1","kind":"breach_of_the_peace","occurred_at":"2026-03-01T10:00:00Z","reported_at":"2026-03-01T11:00:00Z","summary":"s","children":[{` + child + `,"present":true}]}`,
			`"kind":"other"`},
		{"police: a shipped category the force's book leaves out", police.Agency{Kinds: book("wy-kinds.csv", "code,maps_to\nDA,domestic_abuse\n", police.Kinds)},
			"x.json", `{"incident_id":"I-2","kind":"DOMESTIC ABUSE","occurred_at":"2026-03-01T10:00:00Z","reported_at":"2026-03-01T11:00:00Z","summary":"s","children":[{` + child + `,"present":true}]}`,
			`incident 1 (I-2): kind "DOMESTIC ABUSE" is not in the code book wy-kinds.csv: add it there, mapped to one of domestic_abuse, missing_person, other`},
		{"connexions: a code listed in full", connexions.Agency{Statuses: book("ccis.csv", "code,maps_to\n540,neet\n", connexions.Statuses)},
			"x.jsonl", `{"record_id":"A",` + child + `,"kind":"status_change","status":540,"since":"2026-03-01","recorded_at":"2026-03-02T09:00:00Z"}`,
			`"status":"neet"`},
		{"connexions: a code of a group the book does not list", connexions.Agency{Statuses: book("ccis.csv", "code,maps_to\n540,neet\n", connexions.Statuses)},
			"x.jsonl", `{"record_id":"A",` + child + `,"kind":"status_change","status":"610","since":"2026-03-01","recorded_at":"2026-03-02T09:00:00Z"}`,
			`line 1: record A: status "610" is not in the code book ccis.csv`},
		{"yot: a local name of an order", yot.Agency{Orders: book("orders.csv", "code,maps_to\nREF ORDER,referral_order\n", yot.Orders)},
			"x.xml", `<x><case id="C1" updated="2026-03-30T14:20:00Z"><young-person>` + "<uin>4010234563</uin>" + `</young-person><worker><name>W</name><phone>0113 496 0000</phone></worker>` +
				`<order><type>Ref Order</type><start>2026-01-12</start><end>2026-10-11</end></order></case></x>`,
			`"order":"referral_order"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r, err := tt.agency.Open(tt.hint, strings.NewReader(tt.export), "leeds")
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for {
				rec, err := r.Next()
				if errors.Is(err, io.EOF) {
					break
				}
				var re *adapters.RecordError
				if errors.As(err, &re) {
					got = append(got, re.Error())
					continue
				}
				if err != nil {
					t.Fatal(err)
				}
				for _, e := range rec.Events {
					got = append(got, string(e.Data()))
				}
			}
			if !strings.Contains(strings.Join(got, "\n"), tt.want) {
				t.Errorf("got\n%s\nwant it to contain\n%s", strings.Join(got, "\n"), tt.want)
			}
		})
	}
}
