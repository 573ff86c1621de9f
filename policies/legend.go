package policies

import (
	"encoding/json"
	"fmt"
	"sort"
	"sync"
)

// Legend is legend.yaml: the words and legal source of every code a
// decision or a cell of the matrix uses.
type Legend struct {
	Bases         map[string]Basis         `json:"bases"`
	Reasons       map[string]Reason        `json:"reasons"`
	Conditions    map[string]Condition     `json:"conditions"`
	Relationships map[string]Relationship  `json:"relationships"`
	Agencies      map[string]AgencyWording `json:"agencies"`
}

// Basis is a code a decision gives: allowing (a copy is sent) or refusing.
// By is "broker" for the broker's own (policy-error), which the policies
// never give.
type Basis struct {
	Allow   bool   `json:"allow"`
	By      string `json:"by,omitempty"`
	Meaning string `json:"meaning"`
	Family  string `json:"family"`
	Source  string `json:"source"`
}

// Reason is a refusal the statutory rules (the Rego) give, with the text
// the decision carries.
type Reason struct {
	Basis  string `json:"basis"`
	Text   string `json:"text"`
	Family string `json:"family"`
	Source string `json:"source"`
}

// Condition is a condition a cell may name under `when`. PerAgency ones
// hold for some agency kinds of an event only.
type Condition struct {
	Meaning   string `json:"meaning"`
	PerAgency bool   `json:"per_agency,omitempty"`
	Source    string `json:"source"`
}

// Relationship is a column of the matrix.
type Relationship struct {
	Meaning string `json:"meaning"`
}

// AgencyWording is how the matrix names an agency kind.
type AgencyWording struct {
	Name string `json:"name"`
	Role string `json:"role"`
}

// Legend returns the data's legend, or false when it has none.
func (d *Data) Legend() (*Legend, bool, error) {
	raw, ok := d.Doc["legend"]
	if !ok {
		return nil, false, nil
	}
	var l Legend
	if err := roundTrip(raw, &l); err != nil {
		return nil, true, fmt.Errorf("legend: %w", err)
	}
	return &l, true, nil
}

// PolicyBases returns the bases the policies may give, allowing and
// refusing (the broker's own left out).
func (l *Legend) PolicyBases() (allow, deny map[string]bool) {
	allow, deny = map[string]bool{}, map[string]bool{}
	for code, b := range l.Bases {
		switch {
		case b.By != "":
		case b.Allow:
			allow[code] = true
		default:
			deny[code] = true
		}
	}
	return allow, deny
}

// Codes returns the keys of a legend section, sorted.
func Codes[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// BuiltinLegend is the legend of the embedded policies: the bases a policy
// without a legend of its own is held to.
var BuiltinLegend = sync.OnceValues(func() (*Legend, error) {
	b, err := FS.ReadFile("legend.yaml")
	if err != nil {
		return nil, err
	}
	d, err := LoadData(map[string]string{"legend.yaml": string(b)})
	if err != nil {
		return nil, err
	}
	l, _, err := d.Legend()
	return l, err
})

func roundTrip(in, out any) error {
	b, err := json.Marshal(in)
	if err != nil {
		return err
	}
	return json.Unmarshal(b, out)
}
