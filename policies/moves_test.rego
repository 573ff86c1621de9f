package ecm.moves_test

import data.ecm.fixtures_test as f
import data.ecm.moves

_address := {"lines": ["2 Road"], "postcode": "YO1 1AA"}

_change(area) := f.input_for(
	f.event("index.address.changed", "leeds/la-social-care", {"address": _address, "area": area}),
	f.child(9), null, [],
)

_transfer(publisher, area) := f.input_for(
	f.event("index.transferred", publisher, {"area": area, "previous_area": "leeds"}),
	f.child_with(9, {"area": "york"}), null, [],
)

test_a_new_area_is_a_move if {
	moves.new_area == "york" with input as _change("york") with data.matrix as f.matrix with data.matrix_rules as {}
	r := moves.rule with input as _change("york") with data.matrix as f.matrix with data.matrix_rules as {}
	r.local["la-social-care"].basis == "s12-move"
	r.involved_any.basis == "s12-move"
	r.refusal.basis == "no-rule"
}

test_same_area_is_not_a_move if {
	not moves.new_area with input as _change("leeds") with data.matrix as f.matrix with data.matrix_rules as {}
	not moves.rule with input as _change("leeds") with data.matrix as f.matrix with data.matrix_rules as {}
}

test_no_record_is_not_a_move if {
	ev := f.event("index.address.changed", "leeds/la-social-care", {"address": _address, "area": "york"})
	not moves.new_area with input as f.input_for(ev, null, null, []) with data.matrix as f.matrix with data.matrix_rules as {}
}

test_transfer_goes_to_social_care_education_and_health_of_the_new_area if {
	r := moves.rule with input as _transfer("broker", "york") with data.matrix as f.matrix with data.matrix_rules as {}
	object.keys(r.local) == {"la-social-care", "lea", "pct"}
	r.local.lea.basis == "s12-move"
}

test_transfer_only_from_the_broker if {
	r := moves.rule with input as _transfer("york/la-social-care", "york") with data.matrix as f.matrix with data.matrix_rules as {}
	r.local == {}
	r.refusal.basis == "no-rule"
}

test_transfer_only_to_the_records_area if {
	r := moves.rule with input as _transfer("broker", "bradford") with data.matrix as f.matrix with data.matrix_rules as {}
	r.local == {}
}
