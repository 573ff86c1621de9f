package ecm.safeguarding_test

import data.ecm.fixtures_test as f
import data.ecm.safeguarding

_referral(harm) := f.input_for(
	f.event("safeguarding.referral", "leeds/pct", {"category": "physical", "significant_harm": harm}),
	f.child(9), null, [],
)

test_referral_with_significant_harm_goes_to_social_care_and_police if {
	r := safeguarding.rule with input as _referral(true) with data.matrix as f.matrix with data.matrix_rules as {}
	object.keys(r.local) == {"la-social-care", "police"}
	r.local.police.basis == "s11-safeguarding"
	not r.refused
}

test_referral_without_significant_harm_goes_to_social_care_only if {
	r := safeguarding.rule with input as _referral(false) with data.matrix as f.matrix with data.matrix_rules as {}
	object.keys(r.local) == {"la-social-care"}
	r.local["la-social-care"].basis == "s11-safeguarding"
	r.refused.police.reason == "no significant harm: the police are not told of this referral (rule 6)"
}

test_missing_from_education_goes_to_social_care if {
	ev := f.event("education.missing", "leeds/lea", {"last_seen": "2026-04-20", "setting": {"name": "Leeds High"}})
	r := safeguarding.rule with input as f.input_for(ev, f.child(9), null, []) with data.matrix as f.matrix with data.matrix_rules as {}
	object.keys(r.local) == {"la-social-care"}
	r.refusal.basis == "no-rule"
}
