package ecm.police_test

import data.ecm.fixtures_test as f
import data.ecm.police

_incident(kind, present, ch) := f.input_for(
	f.event("police.incident", "leeds/police", {
		"kind": kind, "occurred_at": "2026-05-01T22:00:00Z",
		"child_present": present, "summary": "officers attended",
	}),
	ch, null, [],
)

test_domestic_abuse_with_a_4_year_old_present_tells_education_and_health if {
	r := police.rule with input as _incident("domestic_abuse", true, f.child(4)) with data.matrix as f.matrix with data.matrix_rules as {}
	object.keys(r.local) == {"la-social-care", "lea", "pct"}
	object.keys(r.involved) == {"lea", "pct"}
	r.local.pct.remove == ["data.summary"]
	r.local.lea.remove == ["data.summary"]
	r.local["la-social-care"].remove == []
}

test_domestic_abuse_with_a_9_year_old_present_tells_education_only if {
	r := police.rule with input as _incident("domestic_abuse", true, f.child(9)) with data.matrix as f.matrix with data.matrix_rules as {}
	object.keys(r.local) == {"la-social-care", "lea"}
	object.keys(r.involved) == {"lea"}
}

test_child_not_present_or_other_incident_tells_social_care_only if {
	every setting in [_incident("domestic_abuse", false, f.child(4)), _incident("missing_person", true, f.child(4))] {
		r := police.rule with input as setting with data.matrix as f.matrix with data.matrix_rules as {}
		object.keys(r.local) == {"la-social-care"}
		r.involved == {}
	}
}

test_unknown_age_is_not_under_5 if {
	r := police.rule with input as _incident("domestic_abuse", true, null) with data.matrix as f.matrix with data.matrix_rules as {}
	object.keys(r.local) == {"la-social-care", "lea"}
}
