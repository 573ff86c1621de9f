# METADATA
# title: Safeguarding (rule 6)
# description: |
#   s.11 places a duty on each agency to discharge its functions having regard to the need
#   to safeguard and promote the welfare of children, and is meant to "encourage agencies to
#   share early concerns about safety and welfare" (explanatory notes paras 67-68). These
#   events therefore need no consent:
#   - safeguarding.referral goes to children's social care of the child's current area
#     always, and to the police of that area when significant_harm is true (the threshold
#     of a child protection enquiry, Children Act 1989 s.47);
#   - education.missing (a child missing from education, ECM standard 3; s.175 Education
#     Act 2002 via s.11(3)) goes to children's social care of the child's current area.
#   Anyone else needs a valid override (rule 9, override.rego).
#   The `rule` object is described in index.rego.
package ecm.safeguarding

rule := {
	"local": {
		"la-social-care": _referral_to_social_care,
		"police": {
			"allow": true,
			"basis": "s11-safeguarding",
			"remove": [],
			"reason": "the referral reports a risk of significant harm: the police of the child's area are told (s.11)",
		},
	},
	"refusal": _refusal,
} if {
	input.event.name == "safeguarding.referral"
	input.event.data.significant_harm == true
}

rule := {
	"local": {"la-social-care": _referral_to_social_care},
	"refused": {"police": {
		"allow": false,
		"basis": "no-rule",
		"remove": [],
		"reason": "no significant harm: the police are not told of this referral (rule 6)",
	}},
	"refusal": _refusal,
} if {
	input.event.name == "safeguarding.referral"
	not input.event.data.significant_harm == true
}

rule := {
	"local": {"la-social-care": {
		"allow": true,
		"basis": "s11-safeguarding",
		"remove": [],
		"reason": "a child missing from education is reported to social care of the child's area (s.11)",
	}},
	"refusal": _refusal,
} if {
	input.event.name == "education.missing"
}

_referral_to_social_care := {
	"allow": true,
	"basis": "s11-safeguarding",
	"remove": [],
	"reason": "a referral goes to children's social care of the child's area, without consent (s.11)",
}

_refusal := {
	"allow": false,
	"basis": "no-rule",
	"remove": [],
	"reason": "this goes only to social care of the child's area (rule 6); others need a written override (s.12(11))",
}
