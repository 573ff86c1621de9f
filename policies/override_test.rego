package ecm.override_test

import data.ecm.fixtures_test as f
import data.ecm.override

_with(name, justification) := f.input_for(
	object.union(f.event(name, "leeds/pct", {}), {"override": justification}),
	f.child(9), null, [],
)

test_20_characters_are_enough if {
	override.applies with input as _with("caf.completed", "child at risk tonight")
	count("child at risk tonight") == 21
	override.applies with input as _with("caf.completed", "12345678901234567890")
}

test_19_characters_are_not if {
	not override.valid with input as _with("caf.completed", "1234567890123456789")
}

test_spaces_around_do_not_count if {
	not override.valid with input as _with("caf.completed", "   1234567890123456789   ")
}

test_no_override if {
	not override.valid with input as f.input_for(f.event("caf.completed", "leeds/pct", {}), f.child(9), null, [])
}

test_override_does_not_widen_index_events_or_consent_records if {
	justification := "the child is at immediate risk of harm"
	not override.applies with input as _with("index.address.changed", justification)
	not override.applies with input as _with("consent.granted", justification)
	override.applies with input as _with("police.incident", justification)
}

test_override_grant_is_marked_for_review if {
	override.grant.review == true
	override.grant.basis == "s12-11-override"
}
