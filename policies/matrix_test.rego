package ecm.matrix_test

import data.ecm
import data.ecm.fixtures_test as f
import data.ecm.matrix

_address := {"lines": ["2 Road"], "postcode": "YO1 1AA"}

# One input for every row of the matrix and every situation its conditions make.
_settings := [
	f.usual(f.event("index.gp.recorded", "leeds/pct", {}), 9),
	f.usual(f.event("index.address.changed", "leeds/pct", {"address": _address, "area": "york"}), 9),
	f.input_for(f.event("index.transferred", "broker", {"area": "york"}), f.child_with(9, {"area": "york"}), null, f.york),
	f.input_for(f.event("index.transferred", "york/lea", {"area": "york"}), f.child_with(9, {"area": "york"}), null, f.york),
	f.usual(f.event("index.residence.disputed", "broker", {"area": "leeds", "claimed_area": "york"}), 9),
	f.usual(f.event("index.concern.flagged", "york/lea", {}), 9),
	f.usual(f.event("index.concern.matched", "broker", {"recipients": ["leeds/pct", "york/lea"]}), 9),
	f.usual(f.event("safeguarding.referral", "leeds/lea", {"significant_harm": true}), 9),
	f.usual(f.event("safeguarding.referral", "leeds/lea", {"significant_harm": false}), 9),
	f.usual(f.event("education.missing", "leeds/lea", {}), 9),
	f.usual(f.event("police.incident", "leeds/police", {"kind": "domestic_abuse", "child_present": true}), 4),
	f.usual(f.event("police.incident", "leeds/police", {"kind": "domestic_abuse", "child_present": true}), 9),
	f.usual(f.event("police.incident", "leeds/police", {"kind": "other", "child_present": true}), 4),
	f.input_for(f.event("caf.completed", "leeds/pct", {}), f.child(14), {"entries": [f.grant(1, "child", ["caf"], ["lea", "police"])]}, f.leeds),
	f.usual(f.event("youthjustice.order", "leeds/yot", {}), 14),
	f.usual(f.event("consent.granted", "leeds/pct", {"agencies": ["lea", "pct"]}), 9),
]

# The broker keeps matrix.prebuilt as data.matrix_rules and reads it instead of building
# each rule object per event: the decisions are the same.
test_prebuilt_rules_decide_as_the_matrix if {
	every setting in _settings {
		built := ecm.decision with input as setting with data.matrix_rules as {}
		prebuilt := ecm.decision with input as setting with data.matrix_rules as matrix.prebuilt
		built == prebuilt
	}
}

test_prebuilt_has_a_rule_per_situation if {
	prebuilt := matrix.prebuilt with data.matrix as f.matrix
	police := prebuilt["police.incident"]
	police.when == ["child-present-at-domestic-abuse", "child-under-5-present-at-domestic-abuse"]
	object.keys(police.rules) == {
		"", "child-present-at-domestic-abuse", "child-under-5-present-at-domestic-abuse",
		"child-present-at-domestic-abuse,child-under-5-present-at-domestic-abuse",
	}
	object.keys(police.rules["child-present-at-domestic-abuse"].local) == {"la-social-care", "lea"}
	prebuilt["caf.completed"].expand.related.when == "consent-given"
	prebuilt["index.carer.recorded"] == prebuilt["index.child.registered"]
}

# A row an IG lead might write (the broker runs these tests with its prebuilt rules in
# data.matrix_rules, which the tests that change the matrix set aside): an `any` cell in the area column stands for every kind
# (a cell naming the kind beats it), conditions on named and related cells.
_row := {
	"area": {
		"any": {"basis": "s12-index", "reason": "everyone in the area", "source": "s"},
		"lea": {"basis": "s12-index", "remove": ["data.practice"], "reason": "education", "source": "s"},
	},
	"related": {"police": {"basis": "s11-safeguarding", "when": "significant-harm", "reason": "police", "source": "s"}},
	"named": {"pct": {"basis": "s12-concern", "when": "significant-harm", "reason": "named pct", "source": "s"}},
	"otherwise": {"any": {"basis": "no-rule", "reason": "nobody else", "source": "s"}},
}

test_an_any_cell_stands_for_every_kind if {
	r := matrix.rule with data.matrix.events["index.gp.recorded"] as _row with data.matrix_rules as {} with input as f.usual(f.event("index.gp.recorded", "york/lea", {}), 9)
	object.keys(r.local) == {"la-social-care", "lea", "pct", "connexions", "yot", "police"}
	r.local.lea.remove == ["data.practice"]
	r.local.pct.reason == "everyone in the area"
	r.related == {}
	not r.named_any
	d := ecm.decision with data.matrix.events["index.gp.recorded"] as _row with data.matrix_rules as {} with input as f.usual(f.event("index.gp.recorded", "york/lea", {}), 9)
	d["leeds/police"].basis == "s12-index"
}

test_a_condition_on_a_related_or_named_cell if {
	harm := f.usual(f.event("safeguarding.referral", "york/lea", {"significant_harm": true}), 9)
	r := matrix.rule with data.matrix.events["safeguarding.referral"] as _row with data.matrix_rules as {} with input as harm
	r.related.police.basis == "s11-safeguarding"
	r.named_kinds.pct.reason == "named pct"
	matrix.named("york/pct").reason == "named pct" with data.matrix.events["safeguarding.referral"] as _row with data.matrix_rules as {} with input as harm
	not matrix.named("york/lea") with data.matrix.events["safeguarding.referral"] as _row with data.matrix_rules as {} with input as harm
}
