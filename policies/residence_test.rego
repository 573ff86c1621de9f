package ecm.residence_test

import data.ecm
import data.ecm.fixtures_test as f
import data.ecm.residence

# York's school claims the Leeds child (reason conflicting-registration): the record stays
# in Leeds.
_claim := {
	"area": "leeds", "claimed_area": "york", "claimed_by": "york/lea",
	"claimed_at": "2026-05-02T10:00:00Z", "reason": "conflicting-registration",
}

# The child moved from Leeds to Bradford, where no participant works.
_unserved := {
	"area": "bradford", "claimed_area": "bradford", "previous_area": "leeds",
	"claimed_by": "leeds/pct", "claimed_at": "2026-05-02T10:00:00Z",
	"reason": "area-without-participants",
}

_review(publisher, payload, child) := f.input_for(
	f.event("index.residence.disputed", publisher, payload),
	child, null, array.concat(f.leeds, f.york),
)

test_a_claim_names_both_areas if {
	residence.areas == {"leeds", "york"} with input as _review("broker", _claim, f.child(9)) with data.matrix as f.matrix with data.matrix_rules as {}
	r := residence.rule with input as _review("broker", _claim, f.child(9)) with data.matrix as f.matrix with data.matrix_rules as {}
	object.keys(r.reviewers) == {"leeds/la-social-care", "york/la-social-care"}
	r.reviewers["york/la-social-care"].basis == "s12-move"
	r.refusal.basis == "no-rule"
}

test_a_claim_reaches_social_care_of_both_areas_only if {
	d := ecm.decision with input as _review("broker", _claim, f.child(9)) with data.matrix as f.matrix with data.matrix_rules as {}
	f.allowed(d) == {"leeds/la-social-care", "york/la-social-care"}
	d["york/la-social-care"].basis == "s12-move"

	# involved (york/lea, leeds/pct) or local, other kinds are not asked to resolve it
	f.bases(d, ["york/lea", "leeds/pct", "leeds/lea", "york/pct"]) == {
		"york/lea": "no-rule", "leeds/pct": "no-rule",
		"leeds/lea": "no-rule", "york/pct": "no-relationship",
	}
}

test_a_move_out_of_every_served_area_reaches_the_old_areas_social_care if {
	moved := f.child_with(9, {"area": "bradford"})
	d := ecm.decision with input as _review("broker", _unserved, moved) with data.matrix as f.matrix with data.matrix_rules as {}
	f.allowed(d) == {"leeds/la-social-care"}
	d["leeds/la-social-care"].reason == "where the child lives is disputed or unserved: children's social care of each area named resolves it (ECM 3.36, s.10)"
	d["york/la-social-care"].basis == "no-relationship"
}

test_only_the_broker_names_reviewers if {
	residence.areas == set() with input as _review("york/lea", _claim, f.child(9)) with data.matrix as f.matrix with data.matrix_rules as {}
	d := ecm.decision with input as _review("york/lea", _claim, f.child(9)) with data.matrix as f.matrix with data.matrix_rules as {}
	f.allowed(d) == set()
	d["leeds/la-social-care"].reason == "a residence review goes only to children's social care of the areas it names (rule 5)"
}

test_out_of_scope_nobody_reviews if {
	d := ecm.decision with input as _review("broker", _claim, f.child(22)) with data.matrix as f.matrix with data.matrix_rules as {}
	f.allowed(d) == set()
}
