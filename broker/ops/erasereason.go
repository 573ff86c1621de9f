package ops

// The reason an operator gives for an erasure is kept in the child's audit,
// which the erasure does not touch and nobody can delete. So it must not
// identify the child: Erase refuses, before anything is erased, a reason
// that holds the child's UIN, name, date of birth or postcode as the index
// record holds them.

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/ecm-broker/ecm-broker/api"
)

// ErrReasonNamesChild is wrapped by the error of an erasure refused because
// its reason holds the child's data.
var ErrReasonNamesChild = errors.New("the reason identifies the child")

// checkErasureReasonFor reads the child's index record and checks the
// reason against it (checkErasureReason). A child the broker holds no
// record of is checked against the UIN alone.
func (b *Ops) checkErasureReasonFor(ctx context.Context, reason, child, key string) error {
	st, _, err := b.children.Get(ctx, key)
	if err != nil {
		return fmt.Errorf("reading the child's record to check the reason: %w", err)
	}
	x := api.IndexRecord{UIN: child}
	if st.Index != nil {
		x = *st.Index
		if x.UIN == "" {
			x.UIN = child
		}
	}
	return checkErasureReason(reason, &x)
}

// checkErasureReason returns an error, wrapping ErrReasonNamesChild, when
// reason holds any of the child's details as x holds them:
//
//   - the UIN, with or without spaces, hyphens or dots between its digits
//     (943 476 5919);
//   - the given or family name, ignoring case, as whole words;
//   - the date of birth as held (ISO 8601) or written day first
//     (21/07/2013, 21-7-2013, 21.07.2013);
//   - the postcode, ignoring case, with or without its space.
//
// The error says which kind of detail it found, never the detail.
func checkErasureReason(reason string, x *api.IndexRecord) error {
	if x == nil {
		return nil
	}
	found := func(kind string) error {
		return fmt.Errorf("reason: %w: it contains the child's %s; the reason is kept in the audit, which erasure cannot remove, so say why without identifying the child (e.g. \"retention period ended, ticket IG-1234\")",
			ErrReasonNamesChild, kind)
	}
	if re := uinPattern(x.UIN); re != nil && re.MatchString(reason) {
		return found("UIN")
	}
	name, _ := x.Name.(map[string]any)
	for _, part := range []struct{ key, kind string }{{"given", "given name"}, {"family", "family name"}} {
		s, _ := name[part.key].(string)
		if re := wordPattern(s); re != nil && re.MatchString(reason) {
			return found(part.kind)
		}
	}
	if re := datePattern(x.DOB); re != nil && re.MatchString(reason) {
		return found("date of birth")
	}
	address, _ := x.Address.(map[string]any)
	postcode, _ := address["postcode"].(string)
	if re := postcodePattern(postcode); re != nil && re.MatchString(reason) {
		return found("postcode")
	}
	return nil
}

// uinPattern matches the UIN's ten digits with any spaces, hyphens or dots
// between them.
func uinPattern(uin string) *regexp.Regexp {
	if len(uin) == 0 || strings.Trim(uin, "0123456789") != "" {
		return nil
	}
	return regexp.MustCompile(strings.Join(strings.Split(uin, ""), `[\s.-]*`))
}

// wordPattern matches s, ignoring case, as whole words: not inside a longer
// word, with any white space between its words. Nil for a name of fewer
// than two letters, which would match ordinary words.
func wordPattern(s string) *regexp.Regexp {
	words := strings.Fields(s)
	if len([]rune(strings.Join(words, ""))) < 2 {
		return nil
	}
	for i, w := range words {
		words[i] = regexp.QuoteMeta(w)
	}
	return regexp.MustCompile(`(?i)(^|[^\p{L}\p{N}])` + strings.Join(words, `\s+`) + `($|[^\p{L}\p{N}])`)
}

// datePattern matches an ISO date as held and written day first, with /, -
// or . between the parts and with or without leading zeros.
func datePattern(iso string) *regexp.Regexp {
	t, err := time.Parse(time.DateOnly, iso)
	if err != nil {
		if iso == "" {
			return nil
		}
		return regexp.MustCompile(regexp.QuoteMeta(iso))
	}
	y, m, d := strconv.Itoa(t.Year()), `0?`+strconv.Itoa(int(t.Month())), `0?`+strconv.Itoa(t.Day())
	sep := `[/.-]`
	return regexp.MustCompile(`(^|\D)(` + y + sep + m + sep + d + `|` + d + sep + m + sep + y + `)($|\D)`)
}

// postcodePattern matches a postcode, ignoring case, with or without the
// space between its outward and inward codes.
func postcodePattern(postcode string) *regexp.Regexp {
	pc := strings.ToUpper(strings.Join(strings.Fields(postcode), ""))
	if len(pc) < 5 {
		return nil
	}
	outward, inward := pc[:len(pc)-3], pc[len(pc)-3:]
	return regexp.MustCompile(`(?i)(^|[^A-Za-z0-9])` + regexp.QuoteMeta(outward) + `\s*` + regexp.QuoteMeta(inward) + `($|[^A-Za-z0-9])`)
}
