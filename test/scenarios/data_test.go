package scenarios

import (
	"strings"
	"time"
)

// Participants of the demo configuration.
const (
	lsc  = "leeds/la-social-care"
	llea = "leeds/lea"
	lpct = "leeds/pct"
	lcx  = "leeds/connexions"
	lyot = "leeds/yot"
	lpol = "leeds/police"
	ysc  = "york/la-social-care"
	ylea = "york/lea"
	ypct = "york/pct"
	ycx  = "york/connexions"
	yyot = "york/yot"
	ypol = "york/police"
)

// Bases of the spec.
const (
	s11      = "s11-safeguarding"
	s12index = "s12-index"
	concern  = "s12-concern"
	move     = "s12-move"
	notify   = "police-notification"
	consent  = "consent"
	override = "s12-11-override"

	outOfScope     = "out-of-scope"
	ageLimit       = "age-limit"
	noRelationship = "no-relationship"
	noConsent      = "no-consent"
	withdrawn      = "consent-withdrawn"
	noRule         = "no-rule"
)

// justification is a valid s.12(11) override (at least 20 characters).
const justification = "Child at immediate risk; parent cannot be reached tonight."

// dobForAge is the date of birth of someone who turned years old six months ago.
func dobForAge(years int) string {
	return time.Now().UTC().AddDate(-years, -6, 0).Format("2006-01-02")
}

func today(days int) string { return time.Now().UTC().AddDate(0, 0, days).Format("2006-01-02") }

func contact(phone string) map[string]any { return map[string]any{"phone": phone} }

func addr(area, line string) map[string]any {
	pc := map[string]string{"leeds": "LS1 4AP", "york": "YO1 7HH"}[area]
	return map[string]any{"lines": []any{line, strings.ToUpper(area[:1]) + area[1:]}, "postcode": pc}
}

// reg is an index.child.registered payload for a child of the given age.
func reg(given, area string, age int) map[string]any {
	return map[string]any{"name": map[string]any{"given": given, "family": "Scenario"}, "dob": dobForAge(age),
		"gender": "female", "address": addr(area, "1 "+given+" Street"), "area": area}
}

func moved(area, line string) map[string]any {
	return map[string]any{"address": addr(area, line), "area": area}
}

func carer(name, relationship string) map[string]any {
	return map[string]any{"name": name, "relationship": relationship, "contact": contact("07700 900123")}
}

func education(setting string) map[string]any {
	return map[string]any{"setting": map[string]any{"name": setting, "contact": contact("0113 496 0456")}, "from": "2024-09-04"}
}

func gp(practice string) map[string]any {
	return map[string]any{"practice": map[string]any{"name": practice, "code": "B86001", "contact": contact("0113 496 0789")}}
}

func involved(name, role, service string) map[string]any {
	return map[string]any{"practitioner": map[string]any{"name": name, "role": role, "contact": contact("0113 496 0123")},
		"service": service}
}

func ended(name string) map[string]any {
	return map[string]any{"practitioner": map[string]any{"name": name}}
}

func flag(name string) map[string]any {
	return map[string]any{"practitioner": map[string]any{"name": name, "contact": map[string]any{"email": "practitioner@example.org"}}}
}

func unflag(name string) map[string]any { return ended(name) }

func flags(f map[string]any) map[string]any { return f }

func referral(harm bool) map[string]any {
	return map[string]any{"category": "neglect", "summary": "Arrived at school hungry on four mornings this week.",
		"significant_harm": harm}
}

func incident(kind string, present bool) map[string]any {
	return map[string]any{"kind": kind, "occurred_at": time.Now().UTC().Add(-2 * time.Hour).Format(time.RFC3339),
		"child_present": present, "summary": "Officers attended; adults arguing, the child was in the house."}
}

func caf() map[string]any {
	return map[string]any{
		"needs": []any{
			map[string]any{"outcome": "be_healthy", "summary": "Missed two dental appointments."},
			map[string]any{"outcome": "enjoy_and_achieve", "summary": "Attendance 82% this term."},
		},
		"lead_professional": map[string]any{"name": "Mark Otieno", "role": "learning mentor",
			"contact": map[string]any{"email": "mark.otieno@example.org"}},
	}
}

func missing() map[string]any {
	return map[string]any{"last_seen": today(-10), "setting": map[string]any{"name": "Brudenell Primary School",
		"contact": contact("0113 496 0456")}}
}

func exclusion() map[string]any {
	return map[string]any{"kind": "fixed", "days": 3, "reason": "Persistent disruptive behaviour after a warning."}
}

func neet() map[string]any { return map[string]any{"status": "neet", "since": today(-40)} }

func order() map[string]any {
	return map[string]any{"order": "referral order", "start": today(-30), "end": today(200),
		"worker": map[string]any{"name": "Liam Doyle", "contact": contact("0113 496 0321")}}
}

func granted(by string, purposes, agencies []any, expires string) map[string]any {
	d := map[string]any{"given_by": by, "purposes": purposes, "agencies": agencies}
	if expires != "" {
		d["expires"] = expires
	}
	return d
}

func withdrawal(purposes, agencies []any) map[string]any {
	return map[string]any{"purposes": purposes, "agencies": agencies}
}

func l(s ...any) []any { return s }

// lim is the age-limit denial (rule 11) of the given agency kinds of an area.
func lim(area string, agencies ...string) map[string]string {
	out := map[string]string{}
	for _, a := range agencies {
		out[area+"/"+a] = ageLimit
	}
	return out
}

// all denies every participant of the given areas with basis.
func all(basis string, areas ...string) map[string]string {
	out := map[string]string{}
	for _, area := range areas {
		for _, a := range []string{"la-social-care", "lea", "pct", "connexions", "yot", "police"} {
			out[area+"/"+a] = basis
		}
	}
	return out
}

// merge merges denial maps, later ones winning.
func merge(ms ...map[string]string) map[string]string {
	out := map[string]string{}
	for _, m := range ms {
		for k, v := range m {
			out[k] = v
		}
	}
	return out
}

func d(kv ...string) map[string]string {
	out := map[string]string{}
	for i := 0; i+1 < len(kv); i += 2 {
		out[kv[i]] = kv[i+1]
	}
	return out
}

// Generated data, built from the published events as the broker records
// them (docs/policy-input.md, schemas/index.*.v1.json).

func participantOf(ev map[string]any) string { return strings.TrimPrefix(ev["source"].(string), "/") }

func dataOf(ev map[string]any) map[string]any { return ev["data"].(map[string]any) }

// concernOf is the active concern flag an index.concern.flagged event records.
func concernOf(ev map[string]any) map[string]any {
	return map[string]any{"participant": participantOf(ev), "practitioner": dataOf(ev)["practitioner"], "flagged_at": ev["time"]}
}

// involvementOf is the active involvement an index.practitioner.involved event records, in
// the shape of docs/policy-input.md and schemas/defs.v1.json#/$defs/involvement (active required).
func involvementOf(ev map[string]any) map[string]any {
	return map[string]any{"participant": participantOf(ev), "practitioner": dataOf(ev)["practitioner"],
		"service": dataOf(ev)["service"], "active": true, "since": ev["time"]}
}

// concerns builds index.concern.matched/shared data from the flag steps and the recipients.
func concerns(flagSteps []int, recipients ...any) func([]map[string]any) map[string]any {
	return func(evs []map[string]any) map[string]any {
		var cs []any
		for _, i := range flagSteps {
			cs = append(cs, concernOf(evs[i]))
		}
		return map[string]any{"concerns": cs, "recipients": recipients}
	}
}

// record describes which steps make up the index record for a transfer.
type record struct {
	reg, move                  int   // index.child.registered and the index.address.changed that moved the child
	carers, education, gp      []int // index.carer.recorded, index.education.recorded, index.gp.recorded (last wins for education, gp)
	involvements, concernFlags []int
	previous                   string
	fl                         map[string]any
}

func transferred(rc record) func([]map[string]any) map[string]any {
	return func(evs []map[string]any) map[string]any {
		r, m := dataOf(evs[rc.reg]), dataOf(evs[rc.move])
		out := map[string]any{"name": r["name"], "dob": r["dob"], "gender": r["gender"], "address": m["address"],
			"area": m["area"], "previous_area": rc.previous}
		fl := map[string]any{"shielded": false, "care_leaver": false, "learning_difficulty": false}
		for k, v := range rc.fl {
			fl[k] = v
		}
		out["flags"] = fl
		var cs []any
		for _, i := range rc.carers {
			cs = append(cs, dataOf(evs[i]))
		}
		if cs != nil {
			out["carers"] = cs
		}
		for _, i := range rc.education {
			out["education"] = dataOf(evs[i])
		}
		for _, i := range rc.gp {
			out["gp"] = dataOf(evs[i])
		}
		var invs []any
		for _, i := range rc.involvements {
			invs = append(invs, involvementOf(evs[i]))
		}
		if invs != nil {
			out["involvements"] = invs
		}
		var fs []any
		for _, i := range rc.concernFlags {
			fs = append(fs, concernOf(evs[i]))
		}
		if fs != nil {
			out["concerns"] = fs
		}
		return out
	}
}
