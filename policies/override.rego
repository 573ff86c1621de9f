# METADATA
# title: Override (rule 9)
# description: |
#   s.12(11) lets practitioners share "notwithstanding their common law duty of confidence"
#   where "in their professional judgement, it is in the best interest of the child"
#   (explanatory notes para 80). A case event carrying a written justification of at least
#   20 characters (not counting leading and trailing spaces) may go to every participant
#   rule 2 allows, without consent and even after consent was withdrawn; the audit marks
#   each such delivery for review.
#   An override only adds recipients that no other rule allows, and never widens index
#   events, the consent records, scope (rule 1), the age limits (rule 11) or rule 2: the
#   top-level decision applies those first.
package ecm.override

min_length := 20

# Case events an override may widen (all but the consent records, which go to the agency
# kinds they name).
widens := {
	"caf.completed",
	"safeguarding.referral",
	"education.missing",
	"education.exclusion",
	"connexions.neet",
	"youthjustice.order",
	"police.incident",
}

valid if count(trim_space(input.event.override)) >= min_length

applies if {
	valid
	input.event.name in widens
}

grant := {
	"allow": true,
	"basis": "s12-11-override",
	"remove": [],
	"reason": "shared without consent on a written justification of the child's best interests (s.12(11)); for review",
	"review": true,
}
