# METADATA
# title: ecm-broker sharing decision
# description: |
#   The broker evaluates data.ecm.decision once per event (docs/policy-input.md). It gives
#   every candidate exactly one decision {allow, basis, remove, reason} (plus review: true
#   for an s.12(11) override). The first of these that applies wins:
#   1. an event type outside the catalogue: no-rule for everyone;
#   2. the child outside s.10(9): out-of-scope for everyone (rule 1, scope.rego);
#   3. Connexions or the youth offending team outside their ages: age-limit (rule 11);
#   4. the publisher itself: no-rule, it never receives its own event back (rule 2);
#   4a. a participant a broker's residence review names: what residence.rego gives it,
#      related to the child or not (rule 5, the only exception to rule 2);
#   5. what the rule for the event type gives a participant of the child's area, then an
#      involved participant (rules 3-8: index, concern, moves, residence, safeguarding,
#      police, consent .rego);
#   6. for any other participant related to the child (rule 2: in the child's area or
#      involved): a recipient the broker names (rule 4),
#      consent (rule 8), a valid override on a case event (rule 9), else the rule's denial;
#   7. anyone else: no-relationship (rule 2, relationship.rego).
#   Every allowed copy of a shielded child's event loses the address, setting and GP fields,
#   except children's social care's of the child's area (rule 10, shielding.rego).
#
#   Performance: the broker runs this once per event, for 6 to 20 candidates. What depends
#   only on the event (age, scope, area, involvements, the rule's tables) is a complete rule,
#   computed once; per candidate only comparisons and lookups run. Each rule OPA evaluates
#   costs a few microseconds, so the decisions are literals inside each package's `rule`.
package ecm

# METADATA
# entrypoint: true
# description: One decision per candidate, keyed by participant id.
decision := {c.id: _everyone | some c in input.candidates} if {
	_everyone
} else := {c.id: _shielded(c, _agreed(_decide(c))) | some c in input.candidates} if {
	data.ecm.shielding.paths
} else := {c.id: _agreed(_decide(c)) | some c in input.candidates}

# METADATA
# description: |
#   A copy the matrix sends under a data sharing agreement (a cell's `agreement`, the
#   register in agreements.yaml) is refused when the agreement had ended by the event's date,
#   or is not in the register; otherwise the decision stands, without the agreement's id.
_agreed(d) := d if {
	not d.agreement
} else := {
	"allow": false,
	"basis": "agreement-lapsed",
	"remove": [],
	"reason": sprintf("the data sharing agreement %s (%s in the register) ended on %s, before this event: nothing is shared under it until it is renewed", [a.title, d.agreement, a.ends]),
} if {
	d.allow
	a := data.agreements[d.agreement]
	substring(input.event.time, 0, 10) > a.ends
} else := {
	"allow": false,
	"basis": "agreement-lapsed",
	"remove": [],
	"reason": sprintf("the data sharing agreement %s this copy relies on is not in the register of agreements: nothing is shared under it", [d.agreement]),
} if {
	d.allow
	not data.agreements[d.agreement]
} else := object.remove(d, ["agreement"])

# The event catalogue (spec) and the package whose rule governs each type. An
# index.address.changed to another area is rule 5 (moves.rego), any other rule 3.
_catalogue := {
	"index.child.registered": "index",
	"index.address.changed": "index",
	"index.carer.recorded": "index",
	"index.education.recorded": "index",
	"index.gp.recorded": "index",
	"index.practitioner.involved": "index",
	"index.practitioner.ended": "index",
	"index.flags.set": "index",
	"index.concern.flagged": "concern",
	"index.concern.withdrawn": "concern",
	"index.concern.matched": "concern",
	"index.concern.shared": "concern",
	"index.transferred": "moves",
	"index.residence.disputed": "residence",
	"safeguarding.referral": "safeguarding",
	"education.missing": "safeguarding",
	"police.incident": "police",
	"caf.completed": "consent",
	"education.exclusion": "consent",
	"connexions.neet": "consent",
	"youthjustice.order": "consent",
	"consent.granted": "consent",
	"consent.withdrawn": "consent",
}

_rule := r if {
	_catalogue[input.event.name] in {"index", "moves"}
	r := data.ecm.moves.rule
} else := r if {
	_catalogue[input.event.name] == "index"
	r := data.ecm.index.rule
} else := r if {
	_catalogue[input.event.name] == "concern"
	r := data.ecm.concern.rule
} else := r if {
	_catalogue[input.event.name] == "consent"
	r := data.ecm.consent.rule
} else := r if {
	_catalogue[input.event.name] == "safeguarding"
	r := data.ecm.safeguarding.rule
} else := r if {
	_catalogue[input.event.name] == "police"
	r := data.ecm.police.rule
} else := r if {
	_catalogue[input.event.name] == "residence"
	r := data.ecm.residence.rule
}

# Steps 1 and 2: decisions that hold for every candidate.
_everyone := {
	"allow": false,
	"basis": "no-rule",
	"remove": [],
	"reason": "this event type is not in the catalogue: nobody receives it",
} if {
	not _rule
} else := {
	"allow": false,
	"basis": "out-of-scope",
	"remove": [],
	"reason": data.ecm.scope.out_of_scope_reason,
} if {
	not data.ecm.scope.in_scope
}

# Steps 3 to 7, for one candidate. Rule 2 relates a participant to the child by its area
# (_local) or an active involvement (_involved).
_decide(c) := d if {
	d := _age_limit[c.agency]
} else := {
	"allow": false,
	"basis": "no-rule",
	"remove": [],
	"reason": "the publisher does not receive its own event back (rule 2)",
} if {
	c.id == input.event.publisher
} else := d if {
	d := _rule.reviewers[c.id]
} else := _local(c) if {
	c.area == data.ecm.relationship.area
} else := _involved(c) if {
	c.id in data.ecm.relationship.involved
} else := _unrelated

# Step 5 for a participant of the child's area; one also involved may get more that way.
_local(c) := d if {
	d := _rule.local[c.agency]
} else := _involved(c) if {
	c.id in data.ecm.relationship.involved
} else := _otherwise(c)

# Step 5 for a participant involved with the child.
_involved(c) := d if {
	d := _rule.involved[c.agency]
} else := d if {
	d := _rule.involved_any
} else := _otherwise(c)

# Step 6: a participant related to the child that steps 3 to 5 leave undecided.
_otherwise(c) := d if {
	d := _rule.named[c.id]
} else := d if {
	d := _rule.related[c.agency]
} else := data.ecm.override.grant if {
	data.ecm.override.applies
} else := d if {
	d := _rule.refused[c.agency]
} else := _rule.refusal

# Rule 11: the denials for the agency kinds outside their ages.
_age_limit := object.filter(
	{
		"connexions": {
			"allow": false,
			"basis": "age-limit",
			"remove": [],
			"reason": "Connexions hears nothing of a child not known to be 13-19 (24 with learning difficulty), rule 11",
		},
		"yot": {
			"allow": false,
			"basis": "age-limit",
			"remove": [],
			"reason": "the youth offending team hears nothing of a child not known to be 10-17 (rule 11)",
		},
	},
	data.ecm.scope.age_limited,
)

default _unrelated := {
	"allow": false,
	"basis": "no-relationship",
	"remove": [],
	"reason": "neither in the child's current area nor involved with the child (rule 2)",
}

_unrelated := {
	"allow": false,
	"basis": "no-relationship",
	"remove": [],
	"reason": "not yet related to the child: the new area receives the broker's index.transferred event (rule 5)",
} if {
	data.ecm.moves.new_area
}

# Rule 10: an allowed copy loses the shielded paths, except children's social care's of the
# child's area.
_shielded(c, d) := d if {
	c.agency == "la-social-care"
	c.area == data.ecm.relationship.area
} else := data.ecm.shielding.hide(d) if {
	d.allow
} else := d
