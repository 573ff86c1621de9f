# METADATA
# title: Moves across a boundary (rule 5)
# description: |
#   "Information follows the child or young person across local boundaries" (ECM 3.36).
#   When index.address.changed moves the child to another area:
#   - every participant involved with the child receives the change (s12-move), and so does
#     children's social care of the area the child leaves (the record's current area);
#   - the new area's participants, which the broker adds as candidates, receive nothing
#     from the change itself (choice): they are not yet related to the child (rule 2), and
#     la-social-care, lea and pct of the new area receive the whole index record in the
#     broker's index.transferred event instead.
#   index.transferred, from the broker only, goes to la-social-care, lea and pct of
#   data.area, the new area, which is the child's area on the record after the move: the
#   new area's lead (s.10) and the required sources of the basic data (s.12(7)), who must
#   pick up the child's universal services (s.12(4) basic data, involvements, active
#   concern flags).
#   An address change within the same area is an ordinary index event (index.rego).
#   Who receives each, and why, is the rows "index.address.changed (to another area)" and
#   index.transferred of matrix.yaml; the `rule` object is described in index.rego.
package ecm.moves

import data.ecm.matrix
import data.ecm.relationship

# METADATA
# description: |
#   The area an index.address.changed moves the child to; undefined when the change stays
#   in the record's area, or when there is no record to move.
new_area := input.event.data.area if {
	input.event.name == "index.address.changed"
	is_string(input.child.area)
	input.event.data.area != input.child.area
}

# The matrix row of a move to another area.
move_row := "index.address.changed (to another area)"

# (matrix.rego reads this row for a move.)
rule := matrix.rule if {
	new_area
}

# A transfer from anyone but the broker, or about another area than the record's, reaches
# nobody: only the row's refusals stand (fail closed).
rule := matrix.rule if {
	input.event.name == "index.transferred"
	_from_broker
} else := object.union(object.filter(matrix.rule, ["refusal", "refused"]), {"local": {}}) if {
	input.event.name == "index.transferred"
}

_from_broker if {
	input.event.publisher == "broker"
	input.event.data.area == relationship.area
}
