# METADATA
# title: Police incidents (rule 7)
# description: |
#   Under its s.11 duty (the chief officer of police is listed in s.11(1)) the police tell
#   children's social care of the child's area of every incident involving the child. When
#   the child was present at a domestic abuse incident, the education authority (s.175
#   Education Act 2002, via s.11(3)) and, for a child under 5, the PCT (health visiting) are
#   told too, without the free-text summary: they need the fact in order to watch over the
#   child, not the police account.
#   The lea and pct told are those of the child's area and, wherever they are, those
#   involved with the child (choice: a school across the boundary is the one that sees the
#   child the next day). A child of unknown age is not under 5 (spec).
#   Who is told, and why, is the row police.incident of matrix.yaml: the cells of lea and
#   pct name the conditions child-present-at-domestic-abuse and
#   child-under-5-present-at-domestic-abuse, which matrix.rego decides. The `rule` object
#   is described in index.rego.
package ecm.police

import data.ecm.matrix

rule := matrix.rule if {
	input.event.name == "police.incident"
}
