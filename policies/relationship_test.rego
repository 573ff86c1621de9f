package ecm.relationship_test

import data.ecm.fixtures_test as f
import data.ecm.relationship

_referral := f.event("safeguarding.referral", "york/police", {"summary": "x", "significant_harm": false})

test_area_is_the_records if {
	relationship.area == "leeds" with input as f.input_for(_referral, f.child(9), null, [])
}

test_area_is_the_publishers_without_a_record if {
	relationship.area == "york" with input as f.input_for(_referral, null, null, [])
}

test_involved_counts_active_involvements_only if {
	relationship.involved == {"leeds/pct", "york/lea"} with input as f.input_for(_referral, f.child(9), null, [])
	relationship.involved == set() with input as f.input_for(_referral, null, null, [])
}

test_a_concern_flag_alone_does_not_relate if {
	ch := f.child_with(9, {"concerns": [{"participant": "bradford/police", "active": true}]})
	not "bradford/police" in relationship.involved with input as f.input_for(_referral, ch, null, [])
}
