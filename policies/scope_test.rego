package ecm.scope_test

import data.ecm.fixtures_test as f
import data.ecm.scope

_referral := f.event("safeguarding.referral", "leeds/pct", {"summary": "x", "significant_harm": false})

_at(ch) := f.input_for(_referral, ch, null, [])

_aged(years) := _at(f.child(years))

_aged_with(years, flags) := _at(f.child_with(years, {"flags": flags}))

test_age_is_taken_at_the_event_time if {
	scope.age == 9 with input as _aged(9)
	scope.age == 4 with input as _aged(4)
}

test_age_turns_on_the_birthday if {
	scope.age == 13 with input as _at(object.union(f.child(0), {"dob": "2013-05-02"}))
	scope.age == 12 with input as _at(object.union(f.child(0), {"dob": "2013-05-03"}))
}

test_born_on_29_february_is_older_on_1_march if {
	scope.age_at("2013-02-28T12:00:00Z", "2012-02-29") == 0
	scope.age_at("2013-03-01T00:00:00Z", "2012-02-29") == 1
	scope.age_at("2016-02-29T00:00:00Z", "2012-02-29") == 4
}

test_pre_birth_event_counts_as_age_0 if {
	scope.age_at("2026-01-01T00:00:00Z", "2026-03-01") == 0
}

test_unknown_age_without_a_record if {
	not scope.age with input as _at(null)
	scope.in_scope with input as _at(null)
	scope.age_limited == {"connexions", "yot"} with input as _at(null)
}

test_unknown_age_without_a_date_of_birth if {
	ch := object.remove(f.child(9), ["dob"])
	not scope.age with input as _at(ch)
	scope.in_scope with input as _at(ch)
}

test_in_scope_under_20 if {
	scope.in_scope with input as _aged(0)
	scope.in_scope with input as _aged(17)
	scope.in_scope with input as _aged(19)
	not scope.in_scope with input as _aged(20)
}

test_care_leaver_in_scope_under_21 if {
	scope.in_scope with input as _aged_with(20, {"care_leaver": true})
	not scope.in_scope with input as _aged_with(21, {"care_leaver": true})
}

test_learning_difficulty_in_scope_under_25 if {
	scope.in_scope with input as _aged_with(22, {"learning_difficulty": true})
	scope.in_scope with input as _aged_with(24, {"learning_difficulty": true, "care_leaver": true})
	not scope.in_scope with input as _aged_with(25, {"learning_difficulty": true})
}

test_22_without_learning_difficulty_is_out_of_scope if {
	not scope.in_scope with input as _aged(22)
	scope.out_of_scope_reason == concat("", [
		"the child is 22, outside s.10(9) (under 20, a care leaver under 21, or under 25 with a ",
		"learning difficulty): nobody receives this event (rule 1)",
	]) with input as _aged(22)
}

test_connexions_serves_13_to_19 if {
	"connexions" in scope.age_limited with input as _aged(12)
	not "connexions" in scope.age_limited with input as _aged(13)
	not "connexions" in scope.age_limited with input as _aged(19)
	"connexions" in scope.age_limited with input as _aged(20)
}

test_connexions_serves_to_24_with_learning_difficulty if {
	"connexions" in scope.age_limited with input as _aged_with(12, {"learning_difficulty": true})
	not "connexions" in scope.age_limited with input as _aged_with(24, {"learning_difficulty": true})
	"connexions" in scope.age_limited with input as _aged_with(25, {"learning_difficulty": true})
}

test_yot_serves_10_to_17 if {
	scope.age_limited == {"connexions", "yot"} with input as _aged(9)
	scope.age_limited == {"connexions"} with input as _aged(10)
	scope.age_limited == set() with input as _aged(17)
	scope.age_limited == {"yot"} with input as _aged(18)
}

test_flags_come_from_the_record if {
	shielded := {"shielded": true, "care_leaver": false, "learning_difficulty": false}
	scope.flags == shielded with input as _aged_with(9, {"shielded": true})
	scope.flags == {"shielded": false, "care_leaver": false, "learning_difficulty": false} with input as _at(null)
}

test_flags_set_counts_for_its_own_event if {
	ev := f.event("index.flags.set", "leeds/la-social-care", {"learning_difficulty": true, "shielded": false})
	setting := f.input_for(ev, f.child_with(22, {"flags": {"shielded": true}}), null, [])
	scope.flags == {"shielded": true, "care_leaver": false, "learning_difficulty": true} with input as setting
	scope.in_scope with input as setting
}
