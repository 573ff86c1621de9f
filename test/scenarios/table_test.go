package scenarios

import "time"

// The scenario table. Each scenario is named after the rule of
// shared/spec/domain.md and the section of the Children Act 2004 (or of
// Every Child Matters: Change for Children) it tests; step indices are in
// the comments. Expectations follow the spec; where the spec is silent they
// follow the choices written in the policies' comments (policies/*.rego),
// and say so.

func st(from, name string, data map[string]any) step { return step{from: from, name: name, data: data} }

func ov(from, name string, data map[string]any) step {
	return step{from: from, name: name, data: data, override: justification}
}

// regBy registers a child of the given age in leeds, published by from.
func regBy(from, given string, age int) step {
	return st(from, "index.child.registered", reg(given, "leeds", age))
}

// cafOverride is the age-limit probe: a child of the given age in Leeds,
// registered by the PCT, then a CAF shared by the LEA on an override, which
// rule 9 sends to every participant rule 2 allows unless rule 1/11 forbids.
func cafOverride(name, given string, age int, ld bool, connexionsOK, yotOK bool) scenario {
	steps := []step{regBy(lpct, given, age)} // 0
	if ld {
		steps = append(steps, st(lsc, "index.flags.set", flags(map[string]any{"learning_difficulty": true})))
	}
	steps = append(steps, ov(llea, "caf.completed", caf()))
	to := map[string]got{lsc: g(override), lpct: g(override), lpol: g(override)}
	deny := d(llea, noRule)
	if connexionsOK {
		to[lcx] = g(override)
	} else {
		deny[lcx] = ageLimit
	}
	if yotOK {
		to[lyot] = g(override)
	} else {
		deny[lyot] = ageLimit
	}
	return scenario{name: name, steps: steps, expect: []expect{{step: len(steps) - 1, to: to, deny: deny}}}
}

func scenarios() []scenario {
	return []scenario{
		// ---- Rule 3 (s.12(4), s.12(7)): registrations and index events ----
		{
			name:  "rule 3 s.12(7): registration by the PCT reaches children's social care only",
			steps: []step{regBy(lpct, "Ada", 8)}, // 0
			expect: []expect{{step: 0, to: map[string]got{lsc: g(s12index)},
				// No record yet: age unknown, so Connexions and the YOT receive nothing (rules 1, 11).
				deny: merge(lim("leeds", "connexions", "yot"), d(lpct, noRule, llea, noRule, lpol, noRule))}},
		},
		{
			name: "rule 3 s.12(7): registration by the LEA in York, then an index update once the age is known",
			steps: []step{
				st(ylea, "index.child.registered", reg("Bea", "york", 10)), // 0
				st(ylea, "index.carer.recorded", carer("Joanne Scenario", "mother")),
			},
			expect: []expect{
				{step: 0, to: map[string]got{ysc: g(s12index)},
					deny: merge(lim("york", "connexions", "yot"), d(ylea, noRule, ypct, noRule, ypol, noRule))},
				// Now 10: the YOT may hear (nothing allows it here), Connexions may not.
				{step: 1, to: map[string]got{ysc: g(s12index)},
					deny: merge(lim("york", "connexions"), d(ylea, noRule, ypct, noRule, yyot, noRule, ypol, noRule))},
			},
		},
		{
			name: "rule 3 s.12(7): registration by Connexions, then its education record",
			steps: []step{
				regBy(lcx, "Cara", 15), // 0
				st(lcx, "index.education.recorded", education("Leeds City Academy")),
			},
			expect: []expect{
				{step: 0, to: map[string]got{lsc: g(s12index)},
					deny: merge(lim("leeds", "connexions", "yot"), d(llea, noRule, lpct, noRule, lpol, noRule))},
				{step: 1, to: map[string]got{lsc: g(s12index)}, rest: noRule},
			},
		},
		{
			name: "rule 3 s.12(4)(f): index events go to social care and the involved participants only",
			steps: []step{
				regBy(lpct, "Dee", 6), // 0
				st(lpct, "index.practitioner.involved", involved("Sarah Khan", "school nurse", "school nursing")), // 1
				st(llea, "index.practitioner.involved", involved("Mark Otieno", "learning mentor", "mentoring")),  // 2
				st(lpct, "index.gp.recorded", gp("Park Lane Surgery")),                                            // 3
			},
			expect: []expect{
				{step: 1, to: map[string]got{lsc: g(s12index)}, deny: lim("leeds", "connexions", "yot"), rest: noRule},
				{step: 2, to: map[string]got{lsc: g(s12index), lpct: g(s12index)}, deny: lim("leeds", "connexions", "yot"), rest: noRule},
				{step: 3, to: map[string]got{lsc: g(s12index), llea: g(s12index)},
					deny: merge(lim("leeds", "connexions", "yot"), d(lpct, noRule, lpol, noRule))},
			},
		},
		{
			name: "rule 2 and 3 s.12(4)(f): an involved participant in another area receives index updates",
			steps: []step{
				regBy(lpct, "Eve", 11), // 0
				st(ylea, "index.practitioner.involved", involved("Tom Reed", "head of year", "schooling")), // 1
				st(lpct, "index.carer.recorded", carer("Ian Scenario", "father")),                          // 2
			},
			expect: []expect{
				{step: 1, to: map[string]got{lsc: g(s12index)}, deny: merge(lim("leeds", "connexions"), d(ylea, noRule)), rest: noRule},
				{step: 2, to: map[string]got{lsc: g(s12index), ylea: g(s12index)}, deny: lim("leeds", "connexions"), rest: noRule},
			},
		},
		{
			// Spec silent on ended involvements; policies/relationship.rego: an ended involvement no longer counts.
			name: "rule 2 and 3 s.12(4)(f): an ended involvement no longer receives index updates (policy choice)",
			steps: []step{
				regBy(lpct, "Fay", 7), // 0
				st(llea, "index.practitioner.involved", involved("Mark Otieno", "learning mentor", "mentoring")), // 1
				st(llea, "index.practitioner.ended", ended("Mark Otieno")),                                       // 2
				st(lpct, "index.address.changed", moved("leeds", "9 New Road")),                                  // 3
			},
			expect: []expect{
				{step: 2, to: map[string]got{lsc: g(s12index)}, deny: lim("leeds", "connexions", "yot"), rest: noRule},
				{step: 3, to: map[string]got{lsc: g(s12index)}, deny: merge(lim("leeds", "connexions", "yot"), d(llea, noRule)), rest: noRule},
			},
		},

		// ---- Rule 4 (s.12(4)(g), s.11): concerns ----
		{
			name: "rule 4 s.12(4)(g): a concern goes to every involved participant in any area, with the flagger's contact",
			steps: []step{
				regBy(lpct, "Gail", 13), // 0
				st(lpct, "index.practitioner.involved", involved("Sarah Khan", "school nurse", "school nursing")), // 1
				st(yyot, "index.practitioner.involved", involved("Liam Doyle", "YOT worker", "prevention")),       // 2
				st(llea, "index.concern.flagged", flag("Mark Otieno")),                                            // 3
			},
			expect: []expect{
				{step: 3, to: map[string]got{lsc: g(concern), lpct: g(concern), yyot: g(concern)}, deny: d(llea, noRule), rest: noRule},
			},
		},
		{
			name: "rule 4 s.12(4)(g): a second participant's concern makes a match told to both flaggers",
			steps: []step{
				regBy(lpct, "Hana", 5), // 0
				st(lpct, "index.practitioner.involved", involved("Sarah Khan", "health visitor", "health visiting")), // 1
				st(lpct, "index.concern.flagged", flag("Sarah Khan")),                                                // 2
				st(lpol, "index.concern.flagged", flag("PC Dale")),                                                   // 3
			},
			expect: []expect{
				{step: 2, to: map[string]got{lsc: g(concern)}, deny: merge(lim("leeds", "connexions", "yot"), d(lpct, noRule)), rest: noRule},
				{step: 3, to: map[string]got{lsc: g(concern), lpct: g(concern)}, deny: merge(lim("leeds", "connexions", "yot"), d(lpol, noRule)), rest: noRule},
				{step: 3, gen: "index.concern.matched", to: map[string]got{lpct: g(concern), lpol: g(concern)},
					deny: lim("leeds", "connexions", "yot"), rest: noRule, want: concerns([]int{2, 3}, lpct, lpol)},
			},
		},
		{
			name: "rule 4 s.12(4)(g): the same participant flagging again makes no match",
			steps: []step{
				regBy(lpct, "Iris", 6), // 0
				st(lpct, "index.practitioner.involved", involved("Sarah Khan", "school nurse", "school nursing")), // 1
				st(lpct, "index.concern.flagged", flag("Sarah Khan")),                                             // 2
				st(lpct, "index.concern.flagged", flag("Ann Lee")),                                                // 3
			},
			expect: []expect{
				{step: 3, to: map[string]got{lsc: g(concern)}, deny: merge(lim("leeds", "connexions", "yot"), d(lpct, noRule)), rest: noRule},
			},
		},
		{
			name: "rule 4 s.12(4)(g): a participant that becomes involved while concerns are active is told of them",
			steps: []step{
				regBy(lpct, "Jo", 14), // 0
				st(lpct, "index.practitioner.involved", involved("Sarah Khan", "school nurse", "school nursing")), // 1
				st(lpct, "index.concern.flagged", flag("Sarah Khan")),                                             // 2
				st(lpol, "index.concern.flagged", flag("PC Dale")),                                                // 3
				st(lyot, "index.practitioner.involved", involved("Liam Doyle", "YOT worker", "prevention")),       // 4
			},
			expect: []expect{
				{step: 3, gen: "index.concern.matched", to: map[string]got{lpct: g(concern), lpol: g(concern)}, rest: noRule,
					want: concerns([]int{2, 3}, lpct, lpol)},
				{step: 4, to: map[string]got{lsc: g(s12index), lpct: g(s12index)}, deny: d(lyot, noRule), rest: noRule},
				{step: 4, gen: "index.concern.shared", to: map[string]got{lyot: g(concern)}, rest: noRule,
					want: concerns([]int{2, 3}, lyot)},
			},
		},
		{
			name: "rule 4 s.12(4)(g): a participant in another area that becomes involved is told of the active concerns",
			steps: []step{
				regBy(lpct, "Gil", 8), // 0
				st(lpct, "index.concern.flagged", flag("Sarah Khan")),                                      // 1
				st(ylea, "index.practitioner.involved", involved("Tom Reed", "head of year", "schooling")), // 2
			},
			expect: []expect{
				{step: 2, to: map[string]got{lsc: g(s12index)}, deny: merge(lim("leeds", "connexions", "yot"), d(ylea, noRule)), rest: noRule},
				{step: 2, gen: "index.concern.shared", to: map[string]got{ylea: g(concern)}, deny: lim("leeds", "connexions", "yot"), rest: noRule,
					want: concerns([]int{1}, ylea)},
			},
		},
		{
			name: "rule 4 s.12(4)(g): a withdrawn concern is told to the involved, and no longer shared with the newly involved",
			steps: []step{
				regBy(lpct, "Kim", 14), // 0
				st(lpct, "index.practitioner.involved", involved("Sarah Khan", "school nurse", "school nursing")), // 1
				st(llea, "index.practitioner.involved", involved("Mark Otieno", "learning mentor", "mentoring")),  // 2
				st(lpol, "index.concern.flagged", flag("PC Dale")),                                                // 3
				st(lpol, "index.concern.withdrawn", unflag("PC Dale")),                                            // 4
				st(lcx, "index.practitioner.involved", involved("Nia Bell", "personal adviser", "advice")),        // 5
			},
			expect: []expect{
				{step: 3, to: map[string]got{lsc: g(concern), lpct: g(concern), llea: g(concern)}, deny: d(lpol, noRule), rest: noRule},
				{step: 4, to: map[string]got{lsc: g(concern), lpct: g(concern), llea: g(concern)}, deny: d(lpol, noRule), rest: noRule},
				// No active concern: no index.concern.shared is generated (the suite fails on an unexpected one).
				{step: 5, to: map[string]got{lsc: g(s12index), lpct: g(s12index), llea: g(s12index)}, deny: d(lcx, noRule), rest: noRule},
			},
		},
		{
			// Rule 2: "Nothing goes to P otherwise, whatever the rules below say": a flagger in another area
			// with no involvement is not related to the child.
			name: "rule 2 over rule 4 s.12(4)(g): a flagger in another area without an involvement is not told of the match",
			steps: []step{
				regBy(lpct, "Lia", 9), // 0
				st(lpct, "index.practitioner.involved", involved("Sarah Khan", "school nurse", "school nursing")), // 1
				st(ypol, "index.concern.flagged", flag("PC York")),                                                // 2
				st(lpct, "index.concern.flagged", flag("Sarah Khan")),                                             // 3
				ov(llea, "caf.completed", caf()),                                                                  // 4
			},
			expect: []expect{
				{step: 2, to: map[string]got{lsc: g(concern), lpct: g(concern)}, deny: merge(lim("leeds", "connexions", "yot"), d(ypol, noRule)), rest: noRule},
				{step: 3, to: map[string]got{lsc: g(concern)},
					deny: merge(lim("leeds", "connexions", "yot"), d(lpct, noRule, ypol, noRelationship)), rest: noRule},
				{step: 3, gen: "index.concern.matched", to: map[string]got{lpct: g(concern)},
					deny: merge(lim("leeds", "connexions", "yot"), d(ypol, noRelationship)), rest: noRule, want: concerns([]int{2, 3}, ypol, lpct)},
				{step: 4, to: map[string]got{lsc: g(override), lpct: g(override), lpol: g(override)},
					deny: merge(lim("leeds", "connexions", "yot"), d(llea, noRule, ypol, noRelationship))},
			},
		},

		// ---- Rule 6 (s.11): safeguarding ----
		{
			name: "rule 6 s.11: a referral with significant harm goes to social care and the police of the child's area",
			steps: []step{
				regBy(lpct, "Mia", 8),                             // 0
				st(llea, "safeguarding.referral", referral(true)), // 1
			},
			expect: []expect{{step: 1, to: map[string]got{lsc: g(s11), lpol: g(s11)},
				deny: merge(lim("leeds", "connexions", "yot"), d(llea, noRule, lpct, noRule))}},
		},
		{
			name: "rule 6 s.11: a referral without significant harm goes to social care only, not the police",
			steps: []step{
				regBy(lpct, "Nell", 8),                             // 0
				st(lpct, "safeguarding.referral", referral(false)), // 1
			},
			expect: []expect{{step: 1, to: map[string]got{lsc: g(s11)},
				deny: merge(lim("leeds", "connexions", "yot"), d(llea, noRule, lpct, noRule, lpol, noRule))}},
		},
		{
			name: "rule 6 s.11 (s.175 EA 2002): a child missing from education is reported to social care only",
			steps: []step{
				st(llea, "index.child.registered", reg("Olu", "leeds", 10)),                                       // 0
				st(lpct, "index.practitioner.involved", involved("Sarah Khan", "school nurse", "school nursing")), // 1
				st(llea, "education.missing", missing()),                                                          // 2
			},
			expect: []expect{{step: 2, to: map[string]got{lsc: g(s11)},
				deny: merge(lim("leeds", "connexions"), d(llea, noRule, lpct, noRule, lyot, noRule, lpol, noRule))}},
		},
		{
			name:  "rule 6 s.11: a referral about an unregistered child reaches social care of the publisher's area, not Connexions or the YOT",
			steps: []step{st(ypct, "safeguarding.referral", referral(false))}, // 0
			expect: []expect{{step: 0, to: map[string]got{ysc: g(s11)},
				deny: merge(lim("york", "connexions", "yot"), d(ylea, noRule, ypct, noRule, ypol, noRule))}},
		},
		{
			name:  "rule 6 s.11: a significant-harm referral about an unregistered child reaches social care and police",
			steps: []step{st(llea, "safeguarding.referral", referral(true))}, // 0
			expect: []expect{{step: 0, to: map[string]got{lsc: g(s11), lpol: g(s11)},
				deny: merge(lim("leeds", "connexions", "yot"), d(llea, noRule, lpct, noRule))}},
		},
		{
			name: "rule 2: the publisher never receives its own event back (social care's own referral)",
			steps: []step{
				regBy(lpct, "Pam", 8),                            // 0
				st(lsc, "safeguarding.referral", referral(true)), // 1
			},
			expect: []expect{{step: 1, to: map[string]got{lpol: g(s11)},
				deny: merge(lim("leeds", "connexions", "yot"), d(lsc, noRule, llea, noRule, lpct, noRule))}},
		},

		// ---- Rule 7 (s.11): police incidents ----
		{
			name: "rule 7 s.11: domestic abuse with a 4-year-old present goes to social care, and to school and health without the summary",
			steps: []step{
				regBy(lpct, "Quin", 4), // 0
				st(lpol, "police.incident", incident("domestic_abuse", true)), // 1
			},
			expect: []expect{{step: 1,
				to:   map[string]got{lsc: g(notify), llea: g(notify, "data.summary"), lpct: g(notify, "data.summary")},
				deny: merge(lim("leeds", "connexions", "yot"), d(lpol, noRule))}},
		},
		{
			name: "rule 7 s.11: domestic abuse with a 9-year-old present goes to social care and school, not health",
			steps: []step{
				regBy(lpct, "Rae", 9), // 0
				st(lpol, "police.incident", incident("domestic_abuse", true)), // 1
			},
			expect: []expect{{step: 1, to: map[string]got{lsc: g(notify), llea: g(notify, "data.summary")},
				deny: merge(lim("leeds", "connexions", "yot"), d(lpct, noRule, lpol, noRule))}},
		},
		{
			name: "rule 7 s.11: domestic abuse with the 4-year-old not present goes to social care only",
			steps: []step{
				regBy(lpct, "Sol", 4), // 0
				st(lpol, "police.incident", incident("domestic_abuse", false)), // 1
			},
			expect: []expect{{step: 1, to: map[string]got{lsc: g(notify)},
				deny: merge(lim("leeds", "connexions", "yot"), d(llea, noRule, lpct, noRule, lpol, noRule))}},
		},
		{
			name: "rule 7 s.11: a missing-person incident goes to social care only",
			steps: []step{
				regBy(lpct, "Tia", 15), // 0
				st(lpol, "police.incident", incident("missing_person", true)), // 1
			},
			expect: []expect{{step: 1, to: map[string]got{lsc: g(notify)}, rest: noRule}},
		},

		{
			name:  "rule 7 s.11: domestic abuse with an unregistered child present: school told, health not (age unknown is not under 5)",
			steps: []step{st(ypol, "police.incident", incident("domestic_abuse", true))}, // 0
			expect: []expect{{step: 0, to: map[string]got{ysc: g(notify), ylea: g(notify, "data.summary")},
				deny: merge(lim("york", "connexions", "yot"), d(ypct, noRule, ypol, noRule))}},
		},

		// ---- Rule 8 (ECM 3.31): consent ----
		{
			name: "rule 8 ECM 3.31: a CAF without consent is denied to everyone, each denial audited with its reason",
			steps: []step{
				regBy(lpct, "Uma", 14),           // 0
				st(lpct, "caf.completed", caf()), // 1
			},
			expect: []expect{{step: 1, to: map[string]got{},
				deny: merge(all(noConsent, "leeds"), d(lpct, noRule))}},
		},
		{
			name: "rule 8 ECM 3.31: consent by a child of 14 is valid; the consent record goes to the agencies it names",
			steps: []step{
				regBy(lpct, "Val", 14), // 0
				st(lsc, "consent.granted", granted("child", l("caf"), l("lea", "pct"), "")), // 1
				st(lsc, "caf.completed", caf()),                                             // 2
			},
			expect: []expect{
				{step: 1, to: map[string]got{llea: g(consent), lpct: g(consent)}, rest: noRule},
				{step: 2, to: map[string]got{llea: g(consent), lpct: g(consent)},
					deny: merge(all(noConsent, "leeds"), d(lsc, noRule))},
			},
		},
		{
			name: "rule 8 ECM 3.31: consent by a child of 11 is not valid on its own",
			steps: []step{
				regBy(lpct, "Wyn", 11), // 0
				st(lpct, "consent.granted", granted("child", l("caf"), l("lea"), "")), // 1
				st(lpct, "caf.completed", caf()),                                      // 2
			},
			expect: []expect{
				{step: 1, to: map[string]got{llea: g(consent)}, deny: lim("leeds", "connexions"), rest: noRule},
				{step: 2, to: map[string]got{},
					deny: merge(all(noConsent, "leeds"), lim("leeds", "connexions"), d(lpct, noRule))},
			},
		},
		{
			name: "rule 8 ECM 3.31: consent by a child of 12 is valid",
			steps: []step{
				regBy(lpct, "Edi", 12), // 0
				st(lpct, "consent.granted", granted("child", l("caf"), l("lea"), "")), // 1
				st(lpct, "caf.completed", caf()),                                      // 2
			},
			expect: []expect{
				{step: 2, to: map[string]got{llea: g(consent)}, deny: merge(all(noConsent, "leeds"), lim("leeds", "connexions"), d(lpct, noRule))},
			},
		},
		{
			// Spec rule 8: consent "given by the child (12 or over) or a parent", with no age limit on a
			// parent's consent. policies/consent.rego adds one (a parent's consent lapses at 18).
			name: "rule 8 ECM 3.31: a parent's consent counts for an 18-year-old (spec names no age limit)",
			steps: []step{
				regBy(lpct, "Fin", 18), // 0
				st(lpct, "consent.granted", granted("parent", l("caf"), l("lea"), "")), // 1
				st(lpct, "caf.completed", caf()),                                       // 2
			},
			expect: []expect{
				{step: 2, to: map[string]got{llea: g(consent)}, deny: merge(all(noConsent, "leeds"), lim("leeds", "yot"), d(lpct, noRule))},
			},
		},
		{
			name: "rule 8 ECM 3.31: consent by a parent of an 11-year-old is valid",
			steps: []step{
				regBy(lpct, "Xan", 11), // 0
				st(lpct, "consent.granted", granted("parent", l("caf"), l("lea", "la-social-care"), today(300))), // 1
				st(lpct, "caf.completed", caf()), // 2
			},
			expect: []expect{
				{step: 1, to: map[string]got{llea: g(consent), lsc: g(consent)}, deny: lim("leeds", "connexions"), rest: noRule},
				{step: 2, to: map[string]got{llea: g(consent), lsc: g(consent)},
					deny: merge(all(noConsent, "leeds"), lim("leeds", "connexions"), d(lpct, noRule))},
			},
		},
		{
			name: "rule 8 ECM 3.31: an expired consent no longer allows sharing",
			steps: []step{
				regBy(lpct, "Yas", 14), // 0
				st(lpct, "consent.granted", granted("parent", l("caf"), l("lea"), today(-1))), // 1
				st(lpct, "caf.completed", caf()),                                              // 2
			},
			expect: []expect{
				{step: 2, to: map[string]got{}, deny: merge(all(noConsent, "leeds"), d(lpct, noRule))},
			},
		},
		{
			name: "rule 8 ECM 3.31: a withdrawal stops later sharing at once, for the agency kinds it names",
			steps: []step{
				regBy(lpct, "Zed", 14), // 0
				st(lsc, "consent.granted", granted("parent", l("caf"), l("lea", "pct"), "")), // 1
				st(lsc, "caf.completed", caf()),                                              // 2
				st(lsc, "consent.withdrawn", withdrawal(l("caf"), l("lea"))),                 // 3
				st(lsc, "caf.completed", caf()),                                              // 4
				ov(lsc, "caf.completed", caf()),                                              // 5
			},
			expect: []expect{
				{step: 2, to: map[string]got{llea: g(consent), lpct: g(consent)}, deny: merge(all(noConsent, "leeds"), d(lsc, noRule))},
				{step: 3, to: map[string]got{llea: g(consent)}, rest: noRule},
				{step: 4, to: map[string]got{lpct: g(consent)}, deny: merge(all(noConsent, "leeds"), d(lsc, noRule, llea, withdrawn))},
				// Rule 9: an override shares without consent, also after a withdrawal (policies/override.rego).
				{step: 5, to: map[string]got{lpct: g(consent), llea: g(override), lcx: g(override), lyot: g(override), lpol: g(override)},
					deny: d(lsc, noRule)},
			},
		},
		{
			name: "rule 8 ECM 3.31: consent is per purpose: education consent does not open the CAF",
			steps: []step{
				regBy(lpct, "Abe", 15), // 0
				st(llea, "consent.granted", granted("parent", l("education"), l("pct", "la-social-care"), "")), // 1
				st(llea, "education.exclusion", exclusion()),                                                   // 2
				st(llea, "caf.completed", caf()),                                                               // 3
			},
			expect: []expect{
				{step: 1, to: map[string]got{lpct: g(consent), lsc: g(consent)}, rest: noRule},
				{step: 2, to: map[string]got{lpct: g(consent), lsc: g(consent)}, deny: merge(all(noConsent, "leeds"), d(llea, noRule))},
				{step: 3, to: map[string]got{}, deny: merge(all(noConsent, "leeds"), d(llea, noRule))},
			},
		},
		{
			name: "rule 8 ECM 3.31: a NEET status goes to the agencies the young person's connexions consent names",
			steps: []step{
				regBy(lpct, "Bo", 17), // 0
				st(lcx, "consent.granted", granted("child", l("connexions"), l("la-social-care"), "")), // 1
				st(lcx, "connexions.neet", neet()), // 2
			},
			expect: []expect{
				{step: 1, to: map[string]got{lsc: g(consent)}, rest: noRule},
				{step: 2, to: map[string]got{lsc: g(consent)}, deny: merge(all(noConsent, "leeds"), d(lcx, noRule))},
			},
		},
		{
			name: "rule 8 and 11: consent naming Connexions does not reach it about a 12-year-old (youth justice order)",
			steps: []step{
				regBy(lpct, "Cy", 12), // 0
				st(lyot, "consent.granted", granted("child", l("youthjustice"), l("connexions", "lea"), "")), // 1
				st(lyot, "youthjustice.order", order()),                                                      // 2
			},
			expect: []expect{
				{step: 1, to: map[string]got{llea: g(consent)}, deny: lim("leeds", "connexions"), rest: noRule},
				{step: 2, to: map[string]got{llea: g(consent)}, deny: merge(all(noConsent, "leeds"), lim("leeds", "connexions"), d(lyot, noRule))},
			},
		},
		{
			name: "rule 8 and 2: consent and the CAF reach the named agency kind in another area when it is involved",
			steps: []step{
				regBy(lpct, "Di", 14), // 0
				st(ylea, "index.practitioner.involved", involved("Tom Reed", "head of year", "schooling")), // 1
				st(lpct, "consent.granted", granted("parent", l("caf"), l("lea"), "")),                     // 2
				st(lpct, "caf.completed", caf()),                                                           // 3
			},
			expect: []expect{
				{step: 2, to: map[string]got{llea: g(consent), ylea: g(consent)}, rest: noRule},
				{step: 3, to: map[string]got{llea: g(consent), ylea: g(consent)}, deny: merge(all(noConsent, "leeds"), d(lpct, noRule))},
			},
		},

		// ---- Rule 9 (s.12(11)): override ----
		{
			name: "rule 9 s.12(11): a CAF with a written override goes to everyone rule 2 allows, marked for review",
			steps: []step{
				regBy(lpct, "Ed", 16),            // 0
				ov(llea, "caf.completed", caf()), // 1
			},
			expect: []expect{{step: 1,
				to:   map[string]got{lsc: g(override), lpct: g(override), lcx: g(override), lyot: g(override), lpol: g(override)},
				deny: d(llea, noRule)}},
		},
		{
			name: "rule 9 s.12(11): an override shorter than 20 characters is refused, nothing is shared",
			steps: []step{
				regBy(lpct, "Flo", 16), // 0
				{from: llea, name: "caf.completed", data: caf(), override: "urgent, sorry", rejected: true}, // 1
			},
			expect: []expect{{step: 0, to: map[string]got{lsc: g(s12index)}, deny: lim("leeds", "connexions", "yot"), rest: noRule}},
		},
		{
			name: "rule 9 and 2 s.12(11): an override reaches an involved participant in another area, not an unrelated one",
			steps: []step{
				regBy(lpct, "Gus", 15), // 0
				st(ylea, "index.practitioner.involved", involved("Tom Reed", "head of year", "schooling")), // 1
				ov(lpct, "caf.completed", caf()), // 2
			},
			expect: []expect{{step: 2,
				to:   map[string]got{lsc: g(override), llea: g(override), lcx: g(override), lyot: g(override), lpol: g(override), ylea: g(override)},
				deny: d(lpct, noRule)}},
		},
		{
			name: "rule 9 and 6 s.12(11): an override on a referral about an unregistered child never reaches Connexions or the YOT",
			steps: []step{
				{from: llea, name: "safeguarding.referral", data: referral(false), override: justification}, // 0
			},
			expect: []expect{{step: 0, to: map[string]got{lsc: g(s11), lpct: g(override), lpol: g(override)},
				deny: merge(lim("leeds", "connexions", "yot"), d(llea, noRule))}},
		},

		// ---- Rules 1 and 11 (s.10(9), s.10(4)(f)): scope and age limits, probed with an override ----
		cafOverride("rule 11 s.10(4): the YOT hears nothing of a 9-year-old, even on an override", "Hal", 9, false, false, false),
		cafOverride("rule 11 s.10(4): the YOT may hear of a 10-year-old", "Ivy", 10, false, false, true),
		cafOverride("rule 11 s.10(4)(f): Connexions hears nothing of a 12-year-old", "Jem", 12, false, false, true),
		cafOverride("rule 11 s.10(4)(f): Connexions may hear of a 13-year-old", "Kai", 13, false, true, true),
		cafOverride("rule 11 s.10(4): the YOT may hear of a 17-year-old", "Lou", 17, false, true, true),
		cafOverride("rule 11 s.10(4): the YOT hears nothing of an 18-year-old", "Max", 18, false, true, false),
		cafOverride("rule 11 s.10(4)(f): Connexions may hear of a 19-year-old", "Ned", 19, false, true, false),
		cafOverride("rule 1 and 11 s.10(9)(c): a 22-year-old with a learning difficulty is in scope; Connexions yes, the YOT no", "Oli", 22, true, true, false),
		cafOverride("rule 11 s.10(4)(f): Connexions may hear of a 20-year-old with a learning difficulty", "Pia", 20, true, true, false),
		{
			// The registration is decided before any record exists: in scope, age unknown (spec).
			// Setting the flag is decided with the flag counted (policies/scope.rego, a choice).
			name: "rule 1 s.10(9)(b): a care leaver of 20 is in scope once flagged; Connexions and the YOT hear nothing",
			steps: []step{
				regBy(lpct, "Quy", 20),                                                 // 0
				st(lpct, "safeguarding.referral", referral(true)),                      // 1
				st(lsc, "index.flags.set", flags(map[string]any{"care_leaver": true})), // 2
				st(lpct, "safeguarding.referral", referral(true)),                      // 3
				ov(llea, "caf.completed", caf()),                                       // 4
			},
			expect: []expect{
				{step: 0, to: map[string]got{lsc: g(s12index)}, deny: lim("leeds", "connexions", "yot"), rest: noRule},
				{step: 1, to: map[string]got{}, deny: all(outOfScope, "leeds")},
				{step: 2, to: map[string]got{}, deny: lim("leeds", "connexions", "yot"), rest: noRule},
				{step: 3, to: map[string]got{lsc: g(s11), lpol: g(s11)}, deny: merge(lim("leeds", "connexions", "yot"), d(lpct, noRule, llea, noRule))},
				{step: 4, to: map[string]got{lsc: g(override), lpct: g(override), lpol: g(override)},
					deny: merge(lim("leeds", "connexions", "yot"), d(llea, noRule))},
			},
		},
		{
			name: "rule 1 s.10(9): a 20-year-old who is not a care leaver is out of scope: nobody receives anything",
			steps: []step{
				regBy(lpct, "Rex", 20),                            // 0
				st(llea, "safeguarding.referral", referral(true)), // 1
				ov(llea, "caf.completed", caf()),                  // 2
			},
			expect: []expect{
				{step: 0, to: map[string]got{lsc: g(s12index)}, deny: lim("leeds", "connexions", "yot"), rest: noRule},
				{step: 1, to: map[string]got{}, deny: all(outOfScope, "leeds")},
				{step: 2, to: map[string]got{}, deny: all(outOfScope, "leeds")},
			},
		},
		{
			name: "rule 1 s.10(9): a 22-year-old without a learning difficulty is out of scope: nobody receives anything",
			steps: []step{
				regBy(lpct, "Sid", 22), // 0
				st(lpct, "index.carer.recorded", carer("Joanne Scenario", "mother")), // 1
				st(llea, "safeguarding.referral", referral(true)),                    // 2
				ov(llea, "caf.completed", caf()),                                     // 3
				st(lpol, "police.incident", incident("domestic_abuse", true)),        // 4
				st(lpct, "index.address.changed", moved("york", "8 Walmgate")),       // 5
			},
			expect: []expect{
				// The registration itself is decided with no record: in scope, age unknown (spec, "The child").
				{step: 0, to: map[string]got{lsc: g(s12index)}, deny: lim("leeds", "connexions", "yot"), rest: noRule},
				{step: 1, to: map[string]got{}, deny: all(outOfScope, "leeds")},
				{step: 2, to: map[string]got{}, deny: all(outOfScope, "leeds")},
				{step: 3, to: map[string]got{}, deny: all(outOfScope, "leeds")},
				{step: 4, to: map[string]got{}, deny: all(outOfScope, "leeds")},
				// Out of scope, the record does not follow the young adult either.
				{step: 5, to: map[string]got{}, deny: all(outOfScope, "leeds", "york")},
				{step: 5, gen: "index.transferred", to: map[string]got{}, deny: all(outOfScope, "york")},
			},
		},

		// ---- Rule 5 (ECM 3.36): moves ----
		moveScenario("rule 5 ECM 3.36: a move from Leeds to York transfers the index record to York's social care, education and health", "Tam", nil),
		moveScenario("rule 5 and 6 ECM 3.36: after the move a referral goes to York's social care, not Leeds'", "Uri", []step{
			st(ylea, "safeguarding.referral", referral(false)), // 7
		}, expect{step: 7, to: map[string]got{ysc: g(s11)},
			deny: merge(lim("york", "connexions"), d(ylea, noRule, ypct, noRule, yyot, noRule, ypol, noRule, lpct, noRule))}),
		moveScenario("rule 5 and 3 ECM 3.36: after the move index updates go to York's social care and the involved in Leeds", "Vic", []step{
			st(ypct, "index.gp.recorded", gp("Minster Surgery")), // 7
		}, expect{step: 7, to: map[string]got{ysc: g(s12index), lpct: g(s12index)},
			deny: merge(lim("york", "connexions"), d(ylea, noRule, ypct, noRule, yyot, noRule, ypol, noRule))}),
		{
			name: "rule 5 and 2 ECM 3.36: Leeds social care hears of the child after the move only while involved, and only index events",
			steps: []step{
				regBy(lpct, "Wes", 12), // 0
				st(lsc, "index.practitioner.involved", involved("Rita Shah", "social worker", "child in need")), // 1
				st(lpct, "index.address.changed", moved("york", "4 Minster Yard")),                              // 2
				st(ypct, "index.carer.recorded", carer("Joanne Scenario", "mother")),                            // 3
				st(ylea, "safeguarding.referral", referral(false)),                                              // 4
			},
			expect: []expect{
				{step: 2, to: map[string]got{lsc: g(move)},
					deny: merge(all(noRelationship, "york"), lim("york", "connexions"), lim("leeds", "connexions"), d(lpct, noRule)), rest: noRule},
				{step: 2, gen: "index.transferred", to: map[string]got{ysc: g(move), ylea: g(move), ypct: g(move)},
					deny: merge(lim("york", "connexions"), d(yyot, noRule, ypol, noRule, lsc, noRule)),
					want: transferred(record{reg: 0, move: 2, involvements: []int{1}, previous: "leeds"})},
				{step: 3, to: map[string]got{ysc: g(s12index), lsc: g(s12index)}, deny: lim("york", "connexions"), rest: noRule},
				{step: 4, to: map[string]got{ysc: g(s11)}, deny: merge(lim("york", "connexions"), d(lsc, noRule)), rest: noRule},
			},
		},

		// ---- Rule 10: shielding ----
		{
			name: "rule 10: a shielded child's address, setting and GP practice reach only social care of the child's area (index updates)",
			steps: []step{
				regBy(lpct, "Xia", 7), // 0
				st(lpct, "index.practitioner.involved", involved("Sarah Khan", "school nurse", "school nursing")), // 1
				st(llea, "index.practitioner.involved", involved("Mark Otieno", "learning mentor", "mentoring")),  // 2
				st(lsc, "index.flags.set", flags(map[string]any{"shielded": true})),                               // 3
				st(lpct, "index.address.changed", moved("leeds", "2 Safe House Lane")),                            // 4
				st(llea, "index.education.recorded", education("Hidden Valley Primary")),                          // 5
				st(llea, "index.gp.recorded", gp("Quiet Practice")),                                               // 6
				st(lpct, "index.child.registered", reg("Xia", "leeds", 7)),                                        // 7
			},
			expect: []expect{
				{step: 3, to: map[string]got{lpct: g(s12index), llea: g(s12index)}, deny: lim("leeds", "connexions", "yot"), rest: noRule},
				{step: 4, to: map[string]got{lsc: g(s12index), llea: g(s12index, "data.address")}, deny: lim("leeds", "connexions", "yot"), rest: noRule},
				{step: 5, to: map[string]got{lsc: g(s12index), lpct: g(s12index, "data.setting")}, deny: lim("leeds", "connexions", "yot"), rest: noRule},
				{step: 6, to: map[string]got{lsc: g(s12index), lpct: g(s12index, "data.practice")}, deny: lim("leeds", "connexions", "yot"), rest: noRule},
				{step: 7, to: map[string]got{lsc: g(s12index), llea: g(s12index, "data.address")}, deny: lim("leeds", "connexions", "yot"), rest: noRule},
			},
		},
		{
			name: "rule 10 and 6: a shielded child missing from education: the setting reaches only social care of the child's area",
			steps: []step{
				regBy(lpct, "Yan", 7), // 0
				st(lsc, "index.flags.set", flags(map[string]any{"shielded": true})), // 1
				ov(llea, "education.missing", missing()),                            // 2
				st(llea, "education.missing", missing()),                            // 3
			},
			expect: []expect{
				{step: 2, to: map[string]got{lsc: g(s11), lpct: g(override, "data.setting"), lpol: g(override, "data.setting")},
					deny: merge(lim("leeds", "connexions", "yot"), d(llea, noRule))},
				{step: 3, to: map[string]got{lsc: g(s11)}, deny: lim("leeds", "connexions", "yot"), rest: noRule},
			},
		},
		{
			name: "rule 10 and 5: a shielded child's transfer keeps address, setting and GP practice for York's social care only",
			steps: []step{
				regBy(lpct, "Zoe", 8), // 0
				st(llea, "index.education.recorded", education("Brudenell Primary School")),                       // 1
				st(lpct, "index.gp.recorded", gp("Park Lane Surgery")),                                            // 2
				st(lpct, "index.practitioner.involved", involved("Sarah Khan", "school nurse", "school nursing")), // 3
				st(llea, "index.practitioner.involved", involved("Mark Otieno", "learning mentor", "mentoring")),  // 4
				st(lsc, "index.flags.set", flags(map[string]any{"shielded": true})),                               // 5
				st(lpct, "index.address.changed", moved("york", "7 Refuge Row")),                                  // 6
				st(ylea, "index.education.recorded", education("Clifton Green Primary")),                          // 7
			},
			expect: []expect{
				// Rule 10 names the fields removed: address, setting and GP practice; the education record's
				// from/to dates stay (data.education.setting goes, not data.education).
				// Spec silent on which area's social care keeps the new address of the move itself;
				// policies/shielding.rego: the area the child leaves.
				{step: 6, to: map[string]got{lsc: g(move), llea: g(move, "data.address")},
					deny: merge(all(noRelationship, "york"), lim("leeds", "connexions", "yot"), lim("york", "connexions", "yot"), d(lpct, noRule)), rest: noRule},
				{step: 6, gen: "index.transferred",
					to: map[string]got{ysc: g(move), ylea: g(move, "data.address", "data.education.setting", "data.gp.practice"),
						ypct: g(move, "data.address", "data.education.setting", "data.gp.practice")},
					deny: merge(lim("york", "connexions", "yot"), d(ypol, noRule, lpct, noRule, llea, noRule)),
					want: transferred(record{reg: 0, move: 6, education: []int{1}, gp: []int{2}, involvements: []int{3, 4},
						previous: "leeds", fl: map[string]any{"shielded": true}})},
				{step: 7, to: map[string]got{ysc: g(s12index), lpct: g(s12index, "data.setting"), llea: g(s12index, "data.setting")},
					deny: lim("york", "connexions", "yot"), rest: noRule},
			},
		},

		// ---- The door: events the broker refuses ----
		{
			name: "spec parties: a participant may publish only as itself",
			steps: []step{
				regBy(lpct, "Ali", 9), // 0
				{from: lpct, name: "safeguarding.referral", data: referral(true), source: "/" + lpol, rejected: true}, // 1
			},
			expect: []expect{{step: 0, to: map[string]got{lsc: g(s12index)}, deny: lim("leeds", "connexions", "yot"), rest: noRule}},
		},
		{
			name: "spec the child: an event with an invalid UIN is refused",
			steps: []step{
				regBy(lpct, "Cal", 9), // 0
				{from: llea, name: "safeguarding.referral", data: referral(true), badUIN: true, rejected: true}, // 1
			},
			expect: []expect{{step: 0, to: map[string]got{lsc: g(s12index)}, deny: lim("leeds", "connexions", "yot"), rest: noRule}},
		},
		{
			name: "rule 9 s.12(11): an override on an index event widens nothing and is not marked for review",
			steps: []step{
				regBy(lpct, "Dot", 15), // 0
				ov(lpct, "index.carer.recorded", carer("Joanne Scenario", "mother")), // 1
			},
			expect: []expect{{step: 1, to: map[string]got{lsc: g(s12index)}, rest: noRule}},
		},
		{
			// With no record, the child's area is the publisher's (spec, "The child"): a child registered
			// by a Leeds practice with a York address is first known to Leeds, then to York.
			name: "rule 3 spec the child: a registration naming another area goes to the publisher's area, later events to the child's",
			steps: []step{
				st(lpct, "index.child.registered", reg("Eli", "york", 9)),            // 0
				st(lpct, "index.carer.recorded", carer("Joanne Scenario", "mother")), // 1
			},
			expect: []expect{
				{step: 0, to: map[string]got{lsc: g(s12index)}, deny: lim("leeds", "connexions", "yot"), rest: noRule},
				{step: 1, to: map[string]got{ysc: g(s12index)}, deny: merge(lim("york", "connexions", "yot"), d(lpct, noRule)), rest: noRule},
			},
		},
		{
			name: "spec catalogue: only la-social-care may set the flags; a refused shielding leaves the address shared",
			steps: []step{
				regBy(lpct, "Bex", 9), // 0
				st(llea, "index.practitioner.involved", involved("Mark Otieno", "learning mentor", "mentoring")),     // 1
				{from: lpct, name: "index.flags.set", data: flags(map[string]any{"shielded": true}), rejected: true}, // 2
				st(lpct, "index.address.changed", moved("leeds", "5 Open Street")),                                   // 3
			},
			expect: []expect{{step: 3, to: map[string]got{lsc: g(s12index), llea: g(s12index)}, deny: lim("leeds", "connexions", "yot"), rest: noRule}},
		},

		// ---- Rule 5: state follows the events' own time; residence claims ----
		{
			// The school census of the issue on the record telling the truth: taken before the move,
			// exported after it. It still reaches social care of the child's area, York (rule 3).
			name: "rule 5 event time: an older census registration after a newer move neither moves the child back nor transfers it to Leeds",
			steps: []step{
				dated(regBy(lpct, "Cen", 12), daysAgo(330)),                                            // 0
				dated(st(lpct, "index.address.changed", moved("york", "3 Clifton Green")), daysAgo(1)), // 1
				dated(st(llea, "index.child.registered", reg("Cen", "leeds", 12)), daysAgo(60)),        // 2: the census
				st(llea, "safeguarding.referral", referral(false)),                                     // 3
			},
			expect: []expect{
				{step: 1, to: map[string]got{lsc: g(move)},
					deny: merge(all(noRelationship, "york"), lim("york", "connexions"), lim("leeds", "connexions"), d(lpct, noRule)), rest: noRule},
				{step: 1, gen: "index.transferred", to: map[string]got{ysc: g(move), ylea: g(move), ypct: g(move)},
					deny: merge(lim("york", "connexions"), d(yyot, noRule, ypol, noRule)),
					want: transferred(record{reg: 0, move: 1, previous: "leeds"})},
				{step: 2, to: map[string]got{ysc: g(s12index)}, deny: merge(lim("york", "connexions"), d(llea, noRule)), rest: noRule,
					superseded: true},
				// The child is still in York: the referral goes to York's social care (rule 6).
				{step: 3, to: map[string]got{ysc: g(s11)}, deny: merge(lim("york", "connexions"), d(llea, noRule)), rest: noRule},
			},
		},
		{
			name: "rule 5 event time: an older address change does not replace a newer address",
			steps: []step{
				dated(regBy(lpct, "Ola", 12), daysAgo(330)),                                         // 0
				dated(st(lpct, "index.address.changed", moved("leeds", "9 New Road")), daysAgo(10)), // 1
				dated(st(llea, "index.address.changed", moved("york", "8 Walmgate")), daysAgo(90)),  // 2: no move
			},
			expect: []expect{
				{step: 1, to: map[string]got{lsc: g(s12index)}, deny: merge(lim("leeds", "connexions"), d(lpct, noRule)), rest: noRule},
				// Decided as the move it says it is (the record is in Leeds), but it moves nobody: no transfer.
				{step: 2, to: map[string]got{lsc: g(move)},
					deny: merge(all(noRelationship, "york"), lim("york", "connexions"), lim("leeds", "connexions"), d(llea, noRule)), rest: noRule,
					superseded: true},
			},
		},
		{
			name: "rule 5 residence: a registration by York's school of a Leeds child is a claim, reviewed by social care of both areas",
			steps: []step{
				regBy(lpct, "Res", 12), // 0
				st(ylea, "index.child.registered", reg("Res", "york", 12)), // 1
				st(ylea, "safeguarding.referral", referral(false)),         // 2
			},
			expect: []expect{
				{step: 1, to: map[string]got{lsc: g(s12index)}, deny: merge(lim("leeds", "connexions"), d(ylea, noRule)), rest: noRule},
				{step: 1, gen: "index.residence.disputed", to: map[string]got{lsc: g(move), ysc: g(move)},
					deny: lim("leeds", "connexions"), rest: noRule, want: disputed(1, "leeds", "york", "")},
				// The child is still in Leeds: the referral goes to Leeds' social care (rule 6).
				{step: 2, to: map[string]got{lsc: g(s11)}, deny: merge(lim("leeds", "connexions"), d(ylea, noRule)), rest: noRule},
			},
		},
		{
			name: "rule 5 residence: a move to an area without participants is accepted and reviewed by the old area's social care",
			steps: []step{
				regBy(lpct, "Bri", 12), // 0
				st(lpct, "index.address.changed", map[string]any{"address": map[string]any{"lines": []any{"1 Mill Lane"}, "postcode": "BD1 1AA"},
					"area": "bradford"}), // 1
			},
			expect: []expect{
				{step: 1, to: map[string]got{lsc: g(move)}, deny: merge(lim("leeds", "connexions"), d(lpct, noRule)), rest: noRule},
				// Nobody works in Bradford: the transfer has no candidate at all.
				{step: 1, gen: "index.transferred", to: map[string]got{}},
				{step: 1, gen: "index.residence.disputed", to: map[string]got{lsc: g(move)}, want: disputed(1, "bradford", "bradford", "leeds")},
			},
		},
		{
			name: "rule 8 event time: a consent withdrawal exported late does not undo the grant given after it",
			steps: []step{
				regBy(lpct, "Wit", 12), // 0
				dated(st(lpct, "consent.granted", granted("parent", l("caf"), l("lea"), "")), daysAgo(10)), // 1
				dated(st(lsc, "consent.withdrawn", withdrawal(l("caf"), l("lea"))), daysAgo(40)),           // 2
				st(lpct, "caf.completed", caf()), // 3
			},
			expect: []expect{
				{step: 2, to: map[string]got{llea: g(consent)}, deny: merge(lim("leeds", "connexions"), d(lsc, noRule)), rest: noRule,
					superseded: true},
				{step: 3, to: map[string]got{llea: g(consent)}, deny: merge(lim("leeds", "connexions"), d(lpct, noRule)), rest: noConsent},
			},
		},
	}
}

// dated gives a step the time of an export that arrives late.
func dated(s step, at string) step { s.at = at; return s }

func daysAgo(n int) string { return time.Now().UTC().AddDate(0, 0, -n).Format(time.RFC3339) }

// disputed is the index.residence.disputed data the broker generates for step i.
func disputed(i int, area, claimed, previous string) func([]map[string]any) map[string]any {
	return func(evs []map[string]any) map[string]any {
		reason := "conflicting-registration"
		out := map[string]any{"area": area, "claimed_area": claimed, "claimed_by": participantOf(evs[i]), "claimed_at": evs[i]["time"]}
		if previous != "" {
			reason, out["previous_area"] = "area-without-participants", previous
		}
		out["reason"] = reason
		return out
	}
}

// moveScenario: a 12-year-old in Leeds with a carer, a school, a GP, the
// PCT's school nurse and the PCT's active concern moves to York (step 6,
// published by the LEA); extra steps follow from step 7.
func moveScenario(name, given string, extra []step, more ...expect) scenario {
	steps := []step{
		regBy(lpct, given, 12), // 0
		st(lpct, "index.carer.recorded", carer("Joanne Scenario", "mother")),                              // 1
		st(llea, "index.education.recorded", education("Brudenell Primary School")),                       // 2
		st(lpct, "index.gp.recorded", gp("Park Lane Surgery")),                                            // 3
		st(lpct, "index.practitioner.involved", involved("Sarah Khan", "school nurse", "school nursing")), // 4
		st(lpct, "index.concern.flagged", flag("Sarah Khan")),                                             // 5
		st(llea, "index.address.changed", moved("york", "4 Minster Yard")),                                // 6
	}
	expects := []expect{
		{step: 5, to: map[string]got{lsc: g(concern)}, deny: merge(lim("leeds", "connexions"), d(lpct, noRule)), rest: noRule},
		// Social care of the area the child leaves and the involved PCT get the change; York is not yet
		// related (no-relationship) and gets the transfer instead (policies/moves.rego, a choice where
		// the spec is silent).
		{step: 6, to: map[string]got{lsc: g(move), lpct: g(move)},
			deny: merge(all(noRelationship, "york"), lim("york", "connexions"), lim("leeds", "connexions"), d(llea, noRule)), rest: noRule},
		{step: 6, gen: "index.transferred", to: map[string]got{ysc: g(move), ylea: g(move), ypct: g(move)},
			deny: merge(lim("york", "connexions"), d(yyot, noRule, ypol, noRule, lpct, noRule)),
			want: transferred(record{reg: 0, move: 6, carers: []int{1}, education: []int{2}, gp: []int{3}, involvements: []int{4},
				concernFlags: []int{5}, previous: "leeds"})},
	}
	return scenario{name: name, steps: append(steps, extra...), expect: append(expects, more...)}
}
