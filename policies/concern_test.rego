package ecm.concern_test

import data.ecm.concern
import data.ecm.fixtures_test as f

_flag := {"practitioner": {"name": "P Officer", "contact": {"phone": "101"}}}

_matched(publisher) := f.input_for(
	f.event("index.concern.matched", publisher, {"concerns": [], "recipients": ["leeds/pct", "york/police"]}),
	f.child(9), null, [],
)

test_flag_and_withdrawal_go_to_social_care_and_involved if {
	every name in ["index.concern.flagged", "index.concern.withdrawn"] {
		r := concern.rule with input as f.input_for(f.event(name, "york/police", _flag), f.child(9), null, []) with data.matrix as f.matrix with data.matrix_rules as {}
		r.local["la-social-care"].basis == "s12-concern"
		r.involved_any.basis == "s12-concern"
	}
}

test_broker_events_go_to_the_recipients_they_name if {
	r := concern.rule with input as _matched("broker") with data.matrix as f.matrix with data.matrix_rules as {}
	object.keys(r.named) == {"leeds/pct", "york/police"}
	r.named["york/police"].basis == "s12-concern"
	not r.local
}

test_recipients_named_by_a_participant_are_ignored if {
	r := concern.rule with input as _matched("leeds/pct") with data.matrix as f.matrix with data.matrix_rules as {}
	r.named == {}
}

test_other_events_are_not_concerns if {
	not concern.rule with input as f.input_for(f.event("index.gp.recorded", "leeds/pct", {}), f.child(9), null, []) with data.matrix as f.matrix with data.matrix_rules as {}
}
