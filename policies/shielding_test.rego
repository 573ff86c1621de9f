package ecm.shielding_test

import data.ecm.fixtures_test as f
import data.ecm.shielding

_on(name, shielded) := f.input_for(
	f.event(name, "leeds/pct", {}),
	f.child_with(9, {"flags": {"shielded": shielded}}), null, [],
)

test_paths_per_event_type if {
	shielding.paths == ["data.address"] with input as _on("index.child.registered", true)
	shielding.paths == ["data.address"] with input as _on("index.address.changed", true)
	shielding.paths == ["data.setting"] with input as _on("index.education.recorded", true)
	shielding.paths == ["data.practice"] with input as _on("index.gp.recorded", true)
	transferred := ["data.address", "data.education.setting", "data.gp.practice"]
	shielding.paths == transferred with input as _on("index.transferred", true)
	shielding.paths == ["data.setting"] with input as _on("education.missing", true)
}

test_nothing_hidden_when_not_shielded if {
	not shielding.paths with input as _on("index.child.registered", false)
}

test_nothing_hidden_in_types_without_such_fields if {
	not shielding.paths with input as _on("caf.completed", true)
}

test_hide_keeps_what_was_already_removed if {
	d := {"allow": true, "basis": "s12-move", "remove": ["data.summary"], "reason": "r"}
	hidden := shielding.hide(d) with input as _on("index.transferred", true)
	hidden.remove == ["data.summary", "data.address", "data.education.setting", "data.gp.practice"]
	hidden.basis == "s12-move"
}

test_a_child_without_a_record_is_not_shielded if {
	ev := f.event("index.child.registered", "leeds/pct", {})
	not shielding.paths with input as f.input_for(ev, null, null, [])
}
