# METADATA
# title: Index events (rule 3)
# description: |
#   The index record is the s.12(4) basic data: name, address, gender, date of birth, UIN,
#   carers, education, GP practice, practitioners providing a service (explanatory notes
#   para 73). Index events go to children's social care of the child's current area (the
#   s.12 operator and s.10 lead) and to every participant involved with the child, so that
#   the practitioners around the child can find each other (para 70; ECM 3.35).
#   The schemas reject unknown fields in index events, so the copy carries the basic data
#   only and nothing is removed here (shielding aside, rule 10).
#   Concern events are rule 4 (concern.rego); a move across a boundary is rule 5
#   (moves.rego), which ecm.rego asks first.
#
#   Every rule package gives ecm.rego one `rule` object for the event it governs, built
#   from the event's row of the sharing matrix (matrix.yaml, by matrix.rego) with the
#   package's statutory mechanics added; all keys are optional:
#     local         agency kind -> decision, for a participant of the child's current area
#     involved      agency kind -> decision, for a participant involved with the child
#     involved_any  decision for an involved participant of any kind
#     named         participant id -> decision, for recipients a broker event names
#     related       agency kind -> decision, for any participant rule 2 relates to the child
#     refused       agency kind -> denial, when nothing above allows
#     refusal       the denial otherwise
#     reviewers     participant id -> decision, for the social care a residence review names,
#                   whatever rule 2 says (residence.rego)
#   Rule packages say only what their rule allows; ecm.rego applies rules 1, 2, 9, 10, 11.
#   Who receives index data, and why, is the matrix's row index.child.registered.
package ecm.index

import data.ecm.matrix

events := {
	"index.child.registered",
	"index.address.changed",
	"index.carer.recorded",
	"index.education.recorded",
	"index.gp.recorded",
	"index.practitioner.involved",
	"index.practitioner.ended",
	"index.flags.set",
}

# The row of matrix.yaml for this event (the index events share one row).
rule := matrix.rule if {
	input.event.name in events
}
