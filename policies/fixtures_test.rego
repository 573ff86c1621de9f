# METADATA
# title: Test fixtures
# description: |
#   Inputs shaped as docs/policy-input.md describes, shared by the *_test.rego files.
#   Every event happens at `now`; `born(n)` is a date of birth that makes the child n then.
package ecm.fixtures_test

now := "2026-05-02T10:00:00Z"

# The sharing matrix the tests of the statutory mechanics are written against: the first
# revision (testdata/matrix.yaml). The tests pin it (with data.matrix as f.matrix, and
# without the broker's prebuilt rules: with data.matrix_rules as {}), so that an IG lead's
# change to matrix.yaml breaks none of them; the scenario tables test the matrix in force.
matrix := data.testdata.matrix

# A date of birth that makes the child `years` old at `now`.
born(years) := sprintf("%d-01-15", [2026 - years])

# The child's index record in Leeds, with a health visitor (leeds/pct) and a school across
# the boundary in York (york/lea) involved, and an ended involvement of leeds/yot.
child(years) := {
	"uin": "9434765919",
	"name": {"given": "Amy", "family": "Adams"},
	"dob": born(years),
	"gender": "female",
	"address": {"lines": ["1 Street"], "postcode": "LS1 1AA"},
	"area": "leeds",
	"carers": [{"name": "Beth Adams", "relationship": "mother", "contact": {"phone": "0113 000 0000"}}],
	"education": {"setting": {"name": "York Primary", "contact": {"email": "office@york.example"}}, "from": "2025-09-01"},
	"gp": {"practice": {"name": "Leeds Surgery", "code": "B86001", "contact": {"phone": "0113 111 1111"}}},
	"involvements": [
		{
			"participant": "leeds/pct", "practitioner": {"name": "H Visitor", "role": "health visitor"},
			"service": "health visiting", "active": true, "since": "2024-01-01T00:00:00Z",
		},
		{
			"participant": "york/lea", "practitioner": {"name": "T Teacher", "role": "teacher"},
			"service": "school", "active": true, "since": "2025-09-01T00:00:00Z",
		},
		{
			"participant": "leeds/yot", "practitioner": {"name": "Y Worker", "role": "youth worker"},
			"service": "youth justice", "active": false, "since": "2024-01-01T00:00:00Z",
			"ended": "2025-01-01T00:00:00Z",
		},
	],
	"concerns": [],
	"flags": {"shielded": false, "care_leaver": false, "learning_difficulty": false},
}

# The same record with some fields replaced.
child_with(years, changes) := object.union(child(years), changes)

event(name, publisher, payload) := {
	"id": "9f0c0000-0000-4000-8000-000000000000",
	"source": concat("", ["/", publisher]),
	"type": concat("", ["uk.gov.ecm.", name, ".v1"]),
	"name": name,
	"subject": "9434765919",
	"time": now,
	"publisher": publisher,
	"data": payload,
}

candidate(id) := {"id": id, "area": area, "agency": agency} if [area, agency] := split(id, "/")

# Every participant of Leeds, the child's area.
leeds := [
	"leeds/la-social-care", "leeds/lea", "leeds/pct",
	"leeds/connexions", "leeds/yot", "leeds/police",
]

# Participants of York, where only the school is involved with the child.
york := ["york/la-social-care", "york/lea", "york/pct", "york/police"]

input_for(ev, ch, consent, ids) := {
	"event": ev,
	"child": ch,
	"consent": consent,
	"candidates": [candidate(id) | some id in ids],
}

# The usual input: a Leeds child of `years`, no consent, Leeds and York as candidates.
usual(ev, years) := input_for(ev, child(years), null, array.concat(leeds, york))

# Consent history entries.
grant(seq, given_by, purposes, agencies) := {
	"seq": seq, "kind": "granted", "at": "2026-01-10T09:00:00Z", "by": "leeds/pct",
	"given_by": given_by, "purposes": purposes, "agencies": agencies,
}

withdrawal(seq, purposes, agencies) := {
	"seq": seq, "kind": "withdrawn", "at": "2026-03-01T09:00:00Z", "by": "leeds/lea",
	"purposes": purposes, "agencies": agencies,
}

# The decisions the candidates `ids` received, in d, as {id: basis}.
bases(d, ids) := {id: d[id].basis | some id in ids}

# The ids allowed in d.
allowed(d) := {id | some id, x in d; x.allow}
