# METADATA
# title: Police incidents (rule 7)
# description: |
#   Under its s.11 duty (the chief officer of police is listed in s.11(1)) the police tell
#   children's social care of the child's area of every incident involving the child. When
#   the child was present at a domestic abuse incident, the education authority (s.175
#   Education Act 2002, via s.11(3)) and, for a child under 5, the PCT (health visiting) are
#   told too, without the free-text summary: they need the fact in order to watch over the
#   child, not the police account.
#   The lea and pct told are those of the child's area and, wherever they are, those
#   involved with the child (choice: a school across the boundary is the one that sees the
#   child the next day). A child of unknown age is not under 5 (spec).
#   The `rule` object is described in index.rego.
package ecm.police

import data.ecm.scope

rule := {
	"local": object.union(
		{"la-social-care": {
			"allow": true,
			"basis": "police-notification",
			"remove": [],
			"reason": "children's social care of the child's area is told of every police incident about the child (s.11)",
		}},
		_told,
	),
	"involved": _told,
	"refusal": {
		"allow": false,
		"basis": "no-rule",
		"remove": [],
		"reason": "police incidents go to social care; to education and (under 5) the PCT only after domestic abuse (rule 7)",
	},
} if {
	input.event.name == "police.incident"
}

# The agencies told, by kind, because the child was present at domestic abuse.
_told := object.filter(
	{
		"lea": {
			"allow": true,
			"basis": "police-notification",
			"remove": ["data.summary"],
			"reason": "the child was present at domestic abuse: education is told, without the police summary (s.11)",
		},
		"pct": {
			"allow": true,
			"basis": "police-notification",
			"remove": ["data.summary"],
			"reason": "a child under 5 was present at domestic abuse: the PCT is told, without the police summary (s.11)",
		},
	},
	_told_kinds,
)

default _told_kinds := set()

_told_kinds := {"lea", "pct"} if {
	_child_witnessed
	scope.age < 5
} else := {"lea"} if {
	_child_witnessed
}

_child_witnessed if {
	input.event.data.kind == "domestic_abuse"
	input.event.data.child_present == true
}
