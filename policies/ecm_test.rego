package ecm_test

import data.ecm
import data.ecm.fixtures_test as f

# Every decision has the shape docs/policy-input.md fixes, for every candidate and no one else.
_bases := {
	"s11-safeguarding", "s12-index", "s12-concern", "s12-move", "police-notification", "consent",
	"s12-11-override", "out-of-scope", "age-limit", "no-relationship", "no-consent",
	"consent-withdrawn", "no-rule",
}

_well_formed(setting, d) if {
	object.keys(d) == {c.id | some c in setting.candidates}
	every x in d {
		object.keys(x) in {{"allow", "basis", "remove", "reason"}, {"allow", "basis", "remove", "reason", "review"}}
		is_boolean(x.allow)
		x.basis in _bases
		is_array(x.remove)
		is_string(x.reason)
		object.get(x, "review", true) == true
		x.allow == _allowing(x.basis)
	}
}

_allowing(basis) := basis in {
	"s11-safeguarding", "s12-index", "s12-concern", "s12-move",
	"police-notification", "consent", "s12-11-override",
}

_referral(harm) := f.event("safeguarding.referral", "leeds/pct", {"summary": "bruising", "significant_harm": harm})

_incident := f.event("police.incident", "leeds/police", {
	"kind": "domestic_abuse", "occurred_at": "2026-05-01T22:00:00Z",
	"child_present": true, "summary": "officers attended a domestic incident",
})

_gp := f.event("index.gp.recorded", "leeds/pct", {"practice": {"name": "Leeds Surgery", "code": "B86001"}})

_caf := f.event("caf.completed", "leeds/pct", {"needs": [{"outcome": "be healthy", "summary": "speech"}]})

# A child whose involvements also include leeds/connexions and leeds/yot, so that the age
# limits are what stops them.
_with_youth_services(years, flags) := f.child_with(years, {
	"involvements": array.concat(f.child(years).involvements, [
		{"participant": "leeds/connexions", "active": true},
		{"participant": "leeds/yot", "active": true},
	]),
	"flags": flags,
})

test_decisions_are_well_formed if {
	every setting in [
		f.usual(_referral(true), 9),
		f.usual(_incident, 4),
		f.usual(_gp, 22),
		f.usual(object.union(_caf, {"override": "the child is at immediate risk of harm"}), 9),
		f.usual(f.event("index.unknown.v2", "leeds/pct", {}), 9),
		f.input_for(_referral(false), null, null, f.leeds),
		f.usual(f.event("index.address.changed", "leeds/pct", {"address": _address, "area": "york"}), 9),
		f.input_for(f.event("index.transferred", "broker", {"area": "york"}), _moved, null, f.york),
		f.usual(f.event("index.concern.shared", "broker", {"recipients": ["york/lea"]}), 9),
		f.usual(f.event("consent.withdrawn", "leeds/pct", {"purposes": ["caf"], "agencies": ["lea"]}), 9),
		f.input_for(f.event("index.child.registered", "leeds/pct", {}), _shielded_child, null, f.leeds),
		f.usual(f.event("index.residence.disputed", "broker", {"area": "leeds", "claimed_area": "york"}), 9),
	] {
		d := ecm.decision with input as setting with data.matrix as f.matrix with data.matrix_rules as {}
		_well_formed(setting, d)
	}
}

test_domestic_abuse_with_a_4_year_old_present if {
	d := ecm.decision with input as f.usual(_incident, 4) with data.matrix as f.matrix with data.matrix_rules as {}
	f.allowed(d) == {"leeds/la-social-care", "leeds/lea", "leeds/pct", "york/lea"}
	d["leeds/la-social-care"].remove == []
	d["leeds/lea"].remove == ["data.summary"]
	d["leeds/pct"].remove == ["data.summary"]
	d["york/lea"].basis == "police-notification"
	d["leeds/police"].reason == "the publisher does not receive its own event back (rule 2)"
	d["leeds/yot"].basis == "age-limit"
	d["leeds/connexions"].basis == "age-limit"
	d["york/pct"].basis == "no-relationship"
}

test_domestic_abuse_with_a_9_year_old_present if {
	d := ecm.decision with input as f.usual(_incident, 9) with data.matrix as f.matrix with data.matrix_rules as {}
	f.allowed(d) == {"leeds/la-social-care", "leeds/lea", "york/lea"}
	d["leeds/pct"].basis == "no-rule"
}

test_referral_with_significant_harm if {
	d := ecm.decision with input as f.usual(_referral(true), 9) with data.matrix as f.matrix with data.matrix_rules as {}
	f.allowed(d) == {"leeds/la-social-care", "leeds/police"}
	d["leeds/police"].basis == "s11-safeguarding"
	d["york/police"].basis == "no-relationship"
}

test_referral_without_significant_harm if {
	d := ecm.decision with input as f.usual(_referral(false), 9) with data.matrix as f.matrix with data.matrix_rules as {}
	f.allowed(d) == {"leeds/la-social-care"}
	d["leeds/police"].reason == "no significant harm: the police are not told of this referral (rule 6)"
	d["leeds/lea"].basis == "no-rule"
	d["york/lea"].basis == "no-rule"
}

test_referral_about_an_unregistered_child if {
	ev := f.event("safeguarding.referral", "leeds/police", {"significant_harm": true})
	d := ecm.decision with input as f.input_for(ev, null, null, f.leeds) with data.matrix as f.matrix with data.matrix_rules as {}
	f.allowed(d) == {"leeds/la-social-care"}
	f.bases(d, ["leeds/connexions", "leeds/yot", "leeds/police", "leeds/pct"]) == {
		"leeds/connexions": "age-limit", "leeds/yot": "age-limit",
		"leeds/police": "no-rule", "leeds/pct": "no-rule",
	}
}

test_care_leaver_of_20_is_in_scope if {
	d := ecm.decision with input as f.input_for(_gp, f.child_with(20, {"flags": {"care_leaver": true}}), null, f.leeds) with data.matrix as f.matrix with data.matrix_rules as {}
	f.allowed(d) == {"leeds/la-social-care"}
}

test_22_year_old_without_learning_difficulty_is_out_of_scope if {
	d := ecm.decision with input as f.usual(_gp, 22) with data.matrix as f.matrix with data.matrix_rules as {}
	every x in d {
		x.basis == "out-of-scope"
		not x.allow
	}
}

test_22_year_old_with_learning_difficulty if {
	ch := _with_youth_services(22, {"learning_difficulty": true})
	d := ecm.decision with input as f.input_for(_gp, ch, null, f.leeds) with data.matrix as f.matrix with data.matrix_rules as {}
	f.allowed(d) == {"leeds/la-social-care", "leeds/connexions"}
	d["leeds/yot"].basis == "age-limit"
}

test_connexions_at_12_13_19_20 if {
	every years, basis in {12: "age-limit", 13: "s12-index", 19: "s12-index", 20: "age-limit"} {
		# a care leaver, so that the child of 20 is still in scope
		ch := _with_youth_services(years, {"care_leaver": true})
		d := ecm.decision with input as f.input_for(_gp, ch, null, f.leeds) with data.matrix as f.matrix with data.matrix_rules as {}
		d["leeds/connexions"].basis == basis
	}
}

test_yot_at_9_10_17_18 if {
	every years, basis in {9: "age-limit", 10: "s12-index", 17: "s12-index", 18: "age-limit"} {
		d := ecm.decision with input as f.input_for(_gp, _with_youth_services(years, {}), null, f.leeds) with data.matrix as f.matrix with data.matrix_rules as {}
		d["leeds/yot"].basis == basis
	}
}

test_age_limits_beat_overrides if {
	d := ecm.decision with input as f.usual(object.union(_caf, {"override": "the child is at immediate risk of harm"}), 9) with data.matrix as f.matrix with data.matrix_rules as {}
	d["leeds/connexions"].basis == "age-limit"
	d["leeds/yot"].basis == "age-limit"
}

test_index_event_reaches_social_care_and_involved_only if {
	d := ecm.decision with input as f.usual(_gp, 9) with data.matrix as f.matrix with data.matrix_rules as {}
	f.allowed(d) == {"leeds/la-social-care", "york/lea"}
	d["york/lea"].basis == "s12-index"
	d["leeds/pct"].basis == "no-rule"
	d["leeds/lea"].basis == "no-rule"
	d["york/la-social-care"].basis == "no-relationship"
}

test_consent_given_by_a_child_of_14 if {
	consent := {"entries": [f.grant(1, "child", ["caf"], ["lea", "police"])]}
	d := ecm.decision with input as f.input_for(_caf, f.child(14), consent, array.concat(f.leeds, f.york)) with data.matrix as f.matrix with data.matrix_rules as {}
	f.allowed(d) == {"leeds/lea", "leeds/police", "york/lea"}
	d["leeds/lea"].basis == "consent"
	d["york/police"].basis == "no-relationship"
	d["leeds/la-social-care"].basis == "no-consent"
}

test_consent_given_by_a_child_of_11_is_not_valid if {
	consent := {"entries": [f.grant(1, "child", ["caf"], ["lea"])]}
	d := ecm.decision with input as f.input_for(_caf, f.child(11), consent, f.leeds) with data.matrix as f.matrix with data.matrix_rules as {}
	f.allowed(d) == set()
	d["leeds/lea"].basis == "no-consent"
	d["leeds/la-social-care"].basis == "no-consent"
}

test_expired_consent if {
	expired := object.union(f.grant(1, "parent", ["caf"], ["lea"]), {"expires": "2026-04-30"})
	d := ecm.decision with input as f.input_for(_caf, f.child(9), {"entries": [expired]}, f.leeds) with data.matrix as f.matrix with data.matrix_rules as {}
	d["leeds/lea"].basis == "no-consent"
	d["leeds/lea"].reason == "the consent for this purpose has expired (rule 8)"
}

test_withdrawal_after_grant if {
	entries := [f.grant(1, "parent", ["caf"], ["lea", "police"]), f.withdrawal(2, ["caf"], ["lea"])]
	d := ecm.decision with input as f.input_for(_caf, f.child(9), {"entries": entries}, f.leeds) with data.matrix as f.matrix with data.matrix_rules as {}
	f.allowed(d) == {"leeds/police"}
	d["leeds/lea"].basis == "consent-withdrawn"
}

test_consent_does_not_reach_a_flagger_elsewhere if {
	# rule 2: a concern flag alone does not relate a participant outside the child's area
	ch := f.child_with(9, {"concerns": [{"participant": "york/police", "active": true}]})
	consent := {"entries": [f.grant(1, "parent", ["caf"], ["police"])]}
	d := ecm.decision with input as f.input_for(_caf, ch, consent, array.concat(f.leeds, f.york)) with data.matrix as f.matrix with data.matrix_rules as {}
	f.allowed(d) == {"leeds/police"}
	d["york/police"].basis == "no-relationship"
}

test_override_of_19_characters_is_refused if {
	d := ecm.decision with input as f.usual(object.union(_caf, {"override": "1234567890123456789"}), 9) with data.matrix as f.matrix with data.matrix_rules as {}
	f.allowed(d) == set()
}

test_override_of_20_characters_shares_with_review if {
	d := ecm.decision with input as f.usual(object.union(_caf, {"override": "12345678901234567890"}), 9) with data.matrix as f.matrix with data.matrix_rules as {}
	f.allowed(d) == {"leeds/la-social-care", "leeds/lea", "leeds/police", "york/lea"}
	d["leeds/pct"].basis == "no-rule"
	d["york/police"].basis == "no-relationship"
	every id in f.allowed(d) {
		d[id].basis == "s12-11-override"
		d[id].review == true
	}
}

test_override_beats_withdrawal if {
	ev := object.union(_caf, {"override": "the child is at immediate risk of harm"})
	entries := [f.grant(1, "parent", ["caf"], ["lea"]), f.withdrawal(2, ["caf"], ["lea"])]
	d := ecm.decision with input as f.input_for(ev, f.child(9), {"entries": entries}, f.leeds) with data.matrix as f.matrix with data.matrix_rules as {}
	d["leeds/lea"].basis == "s12-11-override"
}

test_override_keeps_the_grants_of_other_rules if {
	ev := object.union(_incident, {"override": "the child is at immediate risk of harm"})
	d := ecm.decision with input as f.usual(ev, 9) with data.matrix as f.matrix with data.matrix_rules as {}
	d["leeds/lea"].basis == "police-notification"
	d["leeds/lea"].remove == ["data.summary"]
	d["leeds/pct"].basis == "s12-11-override"
	d["leeds/pct"].remove == []
	not d["leeds/lea"].review
}

test_override_does_not_widen_index_events if {
	d := ecm.decision with input as f.usual(object.union(_gp, {"override": "the child is at immediate risk of harm"}), 9) with data.matrix as f.matrix with data.matrix_rules as {}
	f.allowed(d) == {"leeds/la-social-care", "york/lea"}
}

_shielded_child := f.child_with(9, {"flags": {"shielded": true}})

_moved := f.child_with(9, {"area": "york"})

test_shielded_child if {
	ev := f.event("index.child.registered", "leeds/pct", {"address": {"lines": ["1 Street"], "postcode": "LS1 1AA"}})
	d := ecm.decision with input as f.input_for(ev, _shielded_child, null, array.concat(f.leeds, f.york)) with data.matrix as f.matrix with data.matrix_rules as {}
	d["leeds/la-social-care"].remove == []
	d["york/lea"].remove == ["data.address"]
	d["leeds/lea"].remove == []
}

test_shielded_child_missing_from_education_on_override if {
	ev := object.union(
		f.event("education.missing", "leeds/lea", {"last_seen": "2026-04-20", "setting": {"name": "Leeds High"}}),
		{"override": "the child is at immediate risk of harm"},
	)
	d := ecm.decision with input as f.input_for(ev, _shielded_child, null, f.leeds) with data.matrix as f.matrix with data.matrix_rules as {}
	d["leeds/la-social-care"].basis == "s11-safeguarding"
	d["leeds/la-social-care"].remove == []
	d["leeds/pct"].basis == "s12-11-override"
	d["leeds/pct"].remove == ["data.setting"]
}

_address := {"lines": ["2 Road"], "postcode": "YO1 1AA"}

test_move_to_another_area if {
	ev := f.event("index.address.changed", "leeds/pct", {"address": _address, "area": "york"})
	d := ecm.decision with input as f.usual(ev, 9) with data.matrix as f.matrix with data.matrix_rules as {}
	f.allowed(d) == {"leeds/la-social-care", "york/lea"}
	d["york/lea"].basis == "s12-move"
	d["leeds/la-social-care"].basis == "s12-move"
	d["leeds/lea"].basis == "no-rule"
	d["york/la-social-care"].basis == "no-relationship"
	contains(d["york/la-social-care"].reason, "index.transferred")
}

test_address_change_within_the_area if {
	ev := f.event("index.address.changed", "leeds/pct", {"address": _address, "area": "leeds"})
	d := ecm.decision with input as f.usual(ev, 9) with data.matrix as f.matrix with data.matrix_rules as {}
	f.allowed(d) == {"leeds/la-social-care", "york/lea"}
	d["york/lea"].basis == "s12-index"
}

test_transfer_to_the_new_area if {
	ev := f.event("index.transferred", "broker", {"area": "york", "previous_area": "leeds", "address": {}})
	moved := f.child_with(9, {"area": "york"})
	d := ecm.decision with input as f.input_for(ev, moved, null, array.concat(f.york, ["leeds/pct"])) with data.matrix as f.matrix with data.matrix_rules as {}
	f.allowed(d) == {"york/la-social-care", "york/lea", "york/pct"}
	d["york/police"].basis == "no-rule"
	d["leeds/pct"].basis == "no-rule"
}

test_shielded_transfer_keeps_the_address_for_social_care_of_the_new_area_only if {
	ev := f.event("index.transferred", "broker", {"area": "york", "previous_area": "leeds", "address": {}})
	ch := f.child_with(9, {"area": "york", "flags": {"shielded": true}})
	d := ecm.decision with input as f.input_for(ev, ch, null, f.york) with data.matrix as f.matrix with data.matrix_rules as {}
	d["york/la-social-care"].remove == []
	d["york/pct"].remove == ["data.address", "data.education.setting", "data.gp.practice"]
}

test_concern_flag if {
	ev := f.event("index.concern.flagged", "york/lea", {"practitioner": {"name": "T Teacher", "contact": {"phone": "1"}}})
	d := ecm.decision with input as f.usual(ev, 9) with data.matrix as f.matrix with data.matrix_rules as {}
	f.allowed(d) == {"leeds/la-social-care", "leeds/pct"}
	d["leeds/pct"].basis == "s12-concern"
}

test_concern_match_tells_each_related_flagger if {
	concerns := [
		{"participant": "york/police", "practitioner": {"name": "P"}, "active": true},
		{"participant": "york/lea", "practitioner": {"name": "T"}, "active": true},
		{"participant": "leeds/pct", "practitioner": {"name": "H"}, "active": true},
	]
	recipients := ["york/police", "york/lea", "leeds/pct"]
	ev := f.event("index.concern.matched", "broker", {"concerns": concerns, "recipients": recipients})
	ch := f.child_with(9, {"concerns": concerns})
	d := ecm.decision with input as f.input_for(ev, ch, null, array.concat(f.leeds, f.york)) with data.matrix as f.matrix with data.matrix_rules as {}
	f.allowed(d) == {"york/lea", "leeds/pct"}
	d["york/lea"].basis == "s12-concern"
	d["york/police"].basis == "no-relationship"
	d["leeds/la-social-care"].basis == "no-rule"
}

test_concern_shared_with_a_newly_involved_participant if {
	ev := f.event("index.concern.shared", "broker", {"concerns": [], "recipients": ["york/lea"]})
	d := ecm.decision with input as f.usual(ev, 9) with data.matrix as f.matrix with data.matrix_rules as {}
	f.allowed(d) == {"york/lea"}
}

test_consent_record_goes_to_the_kinds_it_names if {
	record := {"given_by": "parent", "purposes": ["caf"], "agencies": ["lea", "pct"]}
	ev := f.event("consent.granted", "leeds/la-social-care", record)
	d := ecm.decision with input as f.usual(ev, 9) with data.matrix as f.matrix with data.matrix_rules as {}
	f.allowed(d) == {"leeds/lea", "leeds/pct", "york/lea"}
	d["york/pct"].basis == "no-relationship"
}

test_unknown_event_type if {
	d := ecm.decision with input as f.usual(f.event("index.unknown.v2", "leeds/pct", {}), 9) with data.matrix as f.matrix with data.matrix_rules as {}
	every x in d {
		x.basis == "no-rule"
		x.reason == "this event type is not in the catalogue: nobody receives it"
	}
}

test_no_candidates if {
	d := ecm.decision with input as f.input_for(_gp, f.child(9), null, []) with data.matrix as f.matrix with data.matrix_rules as {}
	d == {}
}

test_a_flagger_elsewhere_is_not_related if {
	ch := f.child_with(9, {"concerns": [{"participant": "york/police", "active": true}]})
	index_data := ecm.decision with input as f.input_for(_gp, ch, null, f.york) with data.matrix as f.matrix with data.matrix_rules as {}
	index_data["york/police"].basis == "no-relationship"
	ev := object.union(_caf, {"override": "the child is at immediate risk of harm"})
	overridden := ecm.decision with input as f.input_for(ev, ch, null, f.york) with data.matrix as f.matrix with data.matrix_rules as {}
	overridden["york/police"].basis == "no-relationship"
	overridden["york/lea"].basis == "s12-11-override"
}

test_an_age_limited_publisher_is_age_limited if {
	ev := f.event("connexions.neet", "leeds/connexions", {"status": "neet", "since": "2026-04-01"})
	d := ecm.decision with input as f.input_for(ev, f.child(9), null, f.leeds) with data.matrix as f.matrix with data.matrix_rules as {}
	d["leeds/connexions"].basis == "age-limit"
}
