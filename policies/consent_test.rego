package ecm.consent_test

import data.ecm.consent
import data.ecm.fixtures_test as f

_caf := f.event("caf.completed", "leeds/pct", {
	"needs": [{"outcome": "be healthy", "summary": "speech therapy"}],
	"lead_professional": "H Visitor",
})

_with(entries, years) := f.input_for(_caf, f.child(years), {"entries": entries}, [])

_expiring(day) := object.union(f.grant(1, "parent", ["caf"], ["lea"]), {"expires": day})

test_purpose_is_the_first_segment_of_the_name if {
	consent.purpose == "caf" with input as _with([], 9) with data.matrix as f.matrix with data.matrix_rules as {}
}

test_parent_consent_names_agency_kinds if {
	r := consent.rule with input as _with([f.grant(1, "parent", ["caf"], ["lea", "pct"])], 9) with data.matrix as f.matrix with data.matrix_rules as {}
	object.keys(r.related) == {"lea", "pct"}
	r.related.lea.basis == "consent"
	r.refused == {}
	r.refusal.basis == "no-consent"
}

test_consent_for_another_purpose_does_not_count if {
	r := consent.rule with input as _with([f.grant(1, "parent", ["education"], ["lea"])], 9) with data.matrix as f.matrix with data.matrix_rules as {}
	r.related == {}
}

test_no_consent_history if {
	r := consent.rule with input as f.input_for(_caf, f.child(9), null, []) with data.matrix as f.matrix with data.matrix_rules as {}
	r.related == {}
	r.refusal.reason == "no consent for this purpose names this agency kind (rule 8); only an override may share"
}

test_child_of_14_can_consent if {
	# granted 2026-01-10, so the child born 2012-01-15 was 13 then
	r := consent.rule with input as _with([f.grant(1, "child", ["caf"], ["lea"])], 14) with data.matrix as f.matrix with data.matrix_rules as {}
	object.keys(r.related) == {"lea"}
}

test_child_of_11_cannot_consent_alone if {
	r := consent.rule with input as _with([f.grant(1, "child", ["caf"], ["lea"])], 11) with data.matrix as f.matrix with data.matrix_rules as {}
	r.related == {}
	r.refused.lea.basis == "no-consent"
	contains(r.refused.lea.reason, "under 12")
}

test_child_of_unknown_age_cannot_consent_alone if {
	r := consent.rule with input as f.input_for(_caf, null, {"entries": [f.grant(1, "child", ["caf"], ["lea"])]}, []) with data.matrix as f.matrix with data.matrix_rules as {}
	r.related == {}
}

test_parent_consent_counts_for_an_18_year_old if {
	r := consent.rule with input as _with([f.grant(1, "parent", ["caf"], ["lea"])], 18) with data.matrix as f.matrix with data.matrix_rules as {}
	object.keys(r.related) == {"lea"}
}

test_consent_from_someone_else_is_not_valid if {
	r := consent.rule with input as _with([f.grant(1, "neighbour", ["caf"], ["lea"])], 9) with data.matrix as f.matrix with data.matrix_rules as {}
	r.related == {}
	contains(r.refused.lea.reason, "not from the child")
}

test_expired_consent if {
	r := consent.rule with input as _with([_expiring("2026-05-01")], 9) with data.matrix as f.matrix with data.matrix_rules as {}
	r.related == {}
	r.refused.lea.reason == "the consent for this purpose has expired (rule 8)"
}

test_consent_lapses_at_the_start_of_its_expiry_date if {
	on_the_day := consent.rule with input as _with([_expiring("2026-05-02")], 9) with data.matrix as f.matrix with data.matrix_rules as {}
	on_the_day.related == {}
	day_before := consent.rule with input as _with([_expiring("2026-05-03")], 9) with data.matrix as f.matrix with data.matrix_rules as {}
	object.keys(day_before.related) == {"lea"}
}

test_withdrawal_after_grant_stops_sharing if {
	entries := [f.grant(1, "parent", ["caf"], ["lea", "pct"]), f.withdrawal(2, ["caf"], ["lea"])]
	r := consent.rule with input as _with(entries, 9) with data.matrix as f.matrix with data.matrix_rules as {}
	object.keys(r.related) == {"pct"}
	r.refused.lea.basis == "consent-withdrawn"
}

test_grant_after_withdrawal_restores_sharing if {
	regrant := object.union(f.grant(2, "parent", ["caf"], ["lea"]), {"at": "2026-04-01T09:00:00Z"})
	r := consent.rule with input as _with([f.withdrawal(1, ["caf"], ["lea"]), regrant], 9) with data.matrix as f.matrix with data.matrix_rules as {}
	object.keys(r.related) == {"lea"}
}

# The fixtures' grants are dated 2026-01-10, their withdrawals 2026-03-01.
test_the_latest_time_decides_whatever_the_order if {
	r := consent.rule with input as _with([f.withdrawal(3, ["caf"], ["lea"]), f.grant(7, "parent", ["caf"], ["lea"])], 9) with data.matrix as f.matrix with data.matrix_rules as {}
	r.related == {}
	r.refused.lea.basis == "consent-withdrawn"
}

test_a_grant_that_arrived_last_does_not_undo_a_later_withdrawal if {
	# The grant of 2026-01-10 reached the broker (seq 9) after the withdrawal of 2026-03-01.
	r := consent.rule with input as _with([f.grant(1, "parent", ["caf"], ["pct"]), f.withdrawal(2, ["caf"], ["pct"]), f.grant(9, "parent", ["caf"], ["pct"])], 9) with data.matrix as f.matrix with data.matrix_rules as {}
	r.refused.pct.basis == "consent-withdrawn"
}

test_a_withdrawal_that_arrived_last_does_not_undo_a_later_grant if {
	late := object.union(f.withdrawal(8, ["caf"], ["lea"]), {"at": "2025-12-01T09:00:00Z"})
	r := consent.rule with input as _with([f.grant(2, "parent", ["caf"], ["lea"]), late], 9) with data.matrix as f.matrix with data.matrix_rules as {}
	object.keys(r.related) == {"lea"}
}

test_at_equal_times_the_highest_seq_decides if {
	same := object.union(f.withdrawal(2, ["caf"], ["lea"]), {"at": "2026-01-10T09:00:00Z"})
	r := consent.rule with input as _with([same, f.grant(1, "parent", ["caf"], ["lea"])], 9) with data.matrix as f.matrix with data.matrix_rules as {}
	r.refused.lea.basis == "consent-withdrawn"
	r2 := consent.rule with input as _with([f.grant(3, "parent", ["caf"], ["lea"]), same], 9) with data.matrix as f.matrix with data.matrix_rules as {}
	object.keys(r2.related) == {"lea"}
}

test_a_later_invalid_grant_still_decides if {
	entries := [f.grant(1, "parent", ["caf"], ["lea"]), f.grant(2, "child", ["caf"], ["lea"])]
	r := consent.rule with input as _with(entries, 11) with data.matrix as f.matrix with data.matrix_rules as {}
	r.related == {}
}

test_consent_records_go_to_the_kinds_they_name if {
	ev := f.event("consent.granted", "leeds/pct", {"given_by": "parent", "purposes": ["caf"], "agencies": ["lea", "pct"]})
	r := consent.rule with input as f.input_for(ev, f.child(9), null, []) with data.matrix as f.matrix with data.matrix_rules as {}
	object.keys(r.related) == {"lea", "pct"}
	r.related.pct.basis == "consent"
	r.refusal.basis == "no-rule"
}

test_other_events_are_not_governed_by_consent if {
	not consent.rule with input as f.input_for(f.event("police.incident", "leeds/police", {}), f.child(9), null, []) with data.matrix as f.matrix with data.matrix_rules as {}
}
