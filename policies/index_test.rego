package ecm.index_test

import data.ecm.fixtures_test as f
import data.ecm.index

_on(name) := f.input_for(f.event(name, "leeds/pct", {}), f.child(9), null, [])

test_every_index_event_has_the_rule if {
	every name in index.events {
		r := index.rule with input as _on(name) with data.matrix as f.matrix with data.matrix_rules as {}
		r.local["la-social-care"].basis == "s12-index"
		r.involved_any.basis == "s12-index"
		r.refusal.basis == "no-rule"
	}
}

test_index_rule_gives_nothing_to_other_kinds_of_the_area if {
	r := index.rule with input as _on("index.gp.recorded") with data.matrix as f.matrix with data.matrix_rules as {}
	object.keys(r.local) == {"la-social-care"}
}

test_case_events_are_not_index_events if {
	not index.rule with input as _on("caf.completed") with data.matrix as f.matrix with data.matrix_rules as {}
	not index.rule with input as _on("index.concern.flagged") with data.matrix as f.matrix with data.matrix_rules as {}
}
