# METADATA
# title: Consent (rule 8)
# description: |
#   Case events that no statutory duty covers (rules 6-7) are shared only with consent: the
#   CAF "can be built up over time and, with consent, shared between practitioners"
#   (ECM 3.31). An event goes to the agency kinds named in the child's active consent for
#   the event's purpose, the first segment of its name (caf, education, connexions,
#   youthjustice), wherever rule 2 relates the participant to the child.
#
#   Active consent for (purpose, agency kind) is decided by the latest consent entry naming
#   both: the one with the latest time (at), and of those the highest seq, the last to
#   arrive (docs/policy-input.md). The time is the event's own, not its arrival: a
#   withdrawal exported late does not undo a grant the child gave after it, and a grant
#   exported late does not undo a later withdrawal (spec rule 5, "state follows the events'
#   own time"). Withdrawal stops sharing at once. A grant counts only when it is unexpired
#   and valid:
#   - given by the child: valid when the child was 12 or over at the grant (the spec's age;
#     a Gillick-style presumption that a child of 12 understands enough to consent; a child
#     under 12 cannot consent on their own, nor can a child whose age at the grant is
#     unknown);
#   - given by a parent: always valid, whatever the child's age (the spec names no limit;
#     whether a parent may still consent for a young adult of 18 or over is an open
#     question for the IG lead, docs/policies.md);
#   - expires is an ISO date: the grant lapses at the start of that day.
#   A later grant that is invalid or expired still decides (it is the latest): the agency
#   gets no-consent, not an older grant (fail closed).
#
#   Consent records themselves (consent.granted, consent.withdrawn) go to the participants
#   whose agency kind they name, so each knows what it may now receive.
#   Who receives, and why, is the events' rows of matrix.yaml (their related / any cells
#   name consent-given and named-in-the-consent-record); the refusals of consent that is
#   invalid, expired or withdrawn are statutory, here, in the legend's words (legend.yaml,
#   reasons; contract_test.rego keeps the two the same). The `rule` object is described in
#   index.rego.
package ecm.consent

import data.ecm.matrix
import data.ecm.scope

# Case events governed by consent: every case event except those rules 6-7 govern and the
# consent records themselves.
governed := {"caf.completed", "education.exclusion", "connexions.neet", "youthjustice.order"}

# The refusals of consent that is invalid, expired or withdrawn come before the row's own.
rule := object.union(r, {"refused": object.union_n([object.get(r, "refused", {}), _not_valid, _withdrawn])}) if {
	input.event.name in governed
	r := matrix.rule
}

rule := matrix.rule if {
	input.event.name in {"consent.granted", "consent.withdrawn"}
}

purpose := split(input.event.name, ".")[0]

# The entries naming this event's purpose, oldest first: by time (at, RFC 3339 in UTC as
# the broker writes it, so that text order is time order), then by seq. The broker sends
# them in that order already; sorting keeps the policy right if it did not.
_entries := [e |
	some key in sort([[e.at, e.seq, i] | some i, e in input.consent.entries; purpose in e.purposes])
	e := input.consent.entries[key[2]]
]

# METADATA
# description: |
#   Per agency kind named for this purpose, the entry that decides: the latest naming
#   both (later entries overwrite earlier ones in the union).
deciding := object.union_n([{kind: e | some kind in e.agencies} | some e in _entries])

# METADATA
# description: Agency kinds with a valid, unexpired grant for this event's purpose.
granted contains kind if {
	some kind, e in deciding
	e.kind == "granted"
	not _expired(e)
	_valid(e)
}

# The grant lapses at the start of its expiry date: from that day on, the event's RFC 3339
# time compares, as text, at or after "YYYY-MM-DD".
_expired(e) if input.event.time >= e.expires

_valid(e) if e.given_by == "parent"

_valid(e) if {
	e.given_by == "child"
	scope.age_at(e.at, input.child.dob) >= 12
}

_withdrawn[kind] := {
	"allow": false,
	"basis": "consent-withdrawn",
	"remove": [],
	"reason": "consent for this purpose was withdrawn for this agency kind (rule 8); only an override may share",
} if {
	some kind, e in deciding
	e.kind == "withdrawn"
}

# Kinds whose deciding grant is expired or not valid.
_not_valid[kind] := {
	"allow": false,
	"basis": "no-consent",
	"remove": [],
	"reason": _invalid[_problem(e)],
} if {
	some kind, e in deciding
	e.kind == "granted"
	not kind in granted
}

_problem(e) := "expired" if {
	_expired(e)
} else := "child under 12" if {
	e.given_by == "child"
} else := "given by whom"

_invalid := {
	"expired": "the consent for this purpose has expired (rule 8)",
	"child under 12": "the consent is from a child under 12 or of unknown age: not valid on its own (rule 8)",
	"given by whom": "the latest consent is not from the child (12 or over) or a parent (rule 8)",
}
