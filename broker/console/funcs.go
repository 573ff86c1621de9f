package console

import (
	"encoding/json"
	"html/template"
	"strings"
	"time"
)

// funcs are the templates' helpers.
var funcs = template.FuncMap{
	"short":  shortType,
	"mask":   mask,
	"when":   when,
	"join":   func(s []string) string { return strings.Join(s, ", ") },
	"pretty": pretty,
	"add":    func(a, b int) int { return a + b },
	"yesno": func(b bool) string {
		if b {
			return "Yes"
		}
		return "No"
	},
	"diffclass": func(line string) string {
		switch {
		case strings.HasPrefix(line, "+++"), strings.HasPrefix(line, "---"):
			return "diff-file"
		case strings.HasPrefix(line, "+"):
			return "diff-add"
		case strings.HasPrefix(line, "-"):
			return "diff-del"
		case strings.HasPrefix(line, "@@"):
			return "diff-hunk"
		}
		return ""
	},
	"lines": func(s string) []string { return strings.Split(strings.TrimRight(s, "\n"), "\n") },
}

// shortType is an event type without the catalogue's prefix and version:
// "uk.gov.ecm.caf.completed.v1" reads "caf.completed".
func shortType(t string) string {
	return strings.TrimSuffix(strings.TrimPrefix(t, "uk.gov.ecm."), ".v1")
}

// mask shows the last four digits of a UIN only (lists that are not about
// one child).
func mask(s string) string {
	if len(s) <= 4 {
		return "******"
	}
	return "******" + s[len(s)-4:]
}

// when writes an RFC 3339 time for a person, in UTC.
func when(s string) string {
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return s
	}
	return t.UTC().Format("2 Jan 2006 15:04 UTC")
}

func pretty(raw json.RawMessage) string {
	var v any
	if json.Unmarshal(raw, &v) != nil {
		return string(raw)
	}
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return string(raw)
	}
	return string(b)
}
