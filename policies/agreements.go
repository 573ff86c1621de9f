package policies

import (
	"fmt"
	"slices"
	"time"
)

// Agreement is one data sharing agreement of the register (agreements.yaml):
// what a cell of the matrix that names it relies on. Dates are YYYY-MM-DD.
type Agreement struct {
	Title       string   `json:"title"`
	Parties     []string `json:"parties"`
	Purpose     string   `json:"purpose"`
	LawfulBasis string   `json:"lawful_basis"`
	DPIA        string   `json:"dpia"`
	Signed      string   `json:"signed"`
	ReviewBy    string   `json:"review_by"`
	Ends        string   `json:"ends,omitempty"`
}

// ReviewWindow is how long before its review date an agreement is listed as
// due for review.
const ReviewWindow = 60 * 24 * time.Hour

// Agreements returns the register, or false when the policy has none.
func (d *Data) Agreements() (map[string]Agreement, bool, error) {
	raw, ok := d.Doc["agreements"]
	if !ok {
		return nil, false, nil
	}
	var out map[string]Agreement
	if err := roundTrip(raw, &out); err != nil {
		return nil, true, fmt.Errorf("agreements: %w", err)
	}
	return out, true, nil
}

// Due is an agreement that must be reviewed soon, or has ended.
type Due struct {
	ID        string
	Agreement Agreement
	// Says is why it is listed, in words: "review due by 2027-01-15 (in 43
	// days)", "review overdue since ...", "ended on ...: cells relying on it
	// refuse".
	Says string
}

// DueForReview lists, by id, the agreements whose review date is within
// ReviewWindow of now or past, and those that have ended.
func DueForReview(reg map[string]Agreement, now time.Time) []Due {
	today := now.UTC().Format(time.DateOnly)
	var out []Due
	for _, id := range Codes(reg) {
		a := reg[id]
		switch {
		case a.Ends != "" && today > a.Ends:
			out = append(out, Due{id, a, fmt.Sprintf("ended on %s: the cells relying on it refuse (agreement-lapsed) until a revision renews it", a.Ends)})
		case today > a.ReviewBy:
			out = append(out, Due{id, a, "review overdue since " + a.ReviewBy})
		default:
			by, err := time.Parse(time.DateOnly, a.ReviewBy)
			if err == nil && by.Sub(now) <= ReviewWindow {
				days := int(by.Sub(now.UTC().Truncate(24*time.Hour)).Hours() / 24)
				out = append(out, Due{id, a, fmt.Sprintf("review due by %s (in %d days)", a.ReviewBy, days)})
			}
		}
	}
	return out
}

// checkAgreement holds a cell's agreement to the register: it must be there,
// and name the cell's agency kind among its parties.
func checkAgreement(reg map[string]Agreement, cell, kind, id string, at []string, add func([]string, string, ...any)) {
	a, ok := reg[id]
	switch {
	case !ok:
		add(append(at, "agreement"), "%s: agreement %q is not in the register (agreements.yaml)", cell, id)
	case kind != "any" && !slices.Contains(a.Parties, kind):
		add(append(at, "agreement"), "%s: agreement %q does not have %s among its parties (%v)", cell, id, kind, a.Parties)
	}
}
