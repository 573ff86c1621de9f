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
#   Who receives each, and why, is the events' rows of matrix.yaml (the police's cells name
#   the conditions significant-harm and no-significant-harm); the `rule` object is
#   described in index.rego.
package ecm.safeguarding

import data.ecm.matrix

rule := matrix.rule if {
	input.event.name in {"safeguarding.referral", "education.missing"}
}
