package ecm.agreements_test

import data.ecm
import data.ecm.fixtures_test as f

# The pinned matrix with the domestic-abuse cell for schools of the child's area relying on
# an agreement.
_matrix := json.patch(f.matrix, [{"op": "add", "path": "/events/police.incident/area/lea/agreement", "value": "encompass"}])

_register(ends) := {"encompass": {"title": "Operation Encompass", "ends": ends}}

_incident := f.usual(
	f.event("police.incident", "leeds/police", {
		"kind": "domestic_abuse", "occurred_at": "2026-05-01T22:00:00Z",
		"child_present": true, "summary": "officers attended",
	}),
	9,
)

test_a_copy_under_an_agreement_in_force_is_sent_without_the_agreement_id if {
	d := ecm.decision with input as _incident with data.matrix as _matrix with data.matrix_rules as {} with data.agreements as _register("2026-12-31")
	d["leeds/lea"].allow
	d["leeds/lea"].basis == "police-notification"
	not d["leeds/lea"].agreement
}

test_a_copy_under_an_agreement_that_ended_before_the_event_is_refused_saying_so if {
	d := ecm.decision with input as _incident with data.matrix as _matrix with data.matrix_rules as {} with data.agreements as _register("2026-05-01")
	not d["leeds/lea"].allow
	d["leeds/lea"].basis == "agreement-lapsed"
	contains(d["leeds/lea"].reason, "Operation Encompass")
	contains(d["leeds/lea"].reason, "ended on 2026-05-01")

	# The cells that do not rely on it are untouched.
	d["leeds/la-social-care"].allow
	d["york/lea"].allow
}

test_the_agreement_covers_the_last_day_it_names if {
	d := ecm.decision with input as _incident with data.matrix as _matrix with data.matrix_rules as {} with data.agreements as _register("2026-05-02")
	d["leeds/lea"].allow
}

test_a_copy_under_an_agreement_missing_from_the_register_is_refused if {
	d := ecm.decision with input as _incident with data.matrix as _matrix with data.matrix_rules as {} with data.agreements as {}
	d["leeds/lea"].basis == "agreement-lapsed"
	contains(d["leeds/lea"].reason, "not in the register")
}
