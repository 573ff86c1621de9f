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
#   The `rule` object is described in index.rego.
package ecm.moves

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

rule := {
	"local": {"la-social-care": {
		"allow": true,
		"basis": "s12-move",
		"remove": [],
		"reason": "children's social care of the area the child leaves is told of the move (ECM 3.36, s.12(4))",
	}},
	"involved_any": {
		"allow": true,
		"basis": "s12-move",
		"remove": [],
		"reason": "a participant involved with the child is told the child has moved (ECM 3.36, s.12(4))",
	},
	"refusal": {
		"allow": false,
		"basis": "no-rule",
		"remove": [],
		"reason": "a move goes to involved participants and social care of the old area; the new area gets a transfer",
	},
} if {
	new_area
}

rule := {
	"local": {kind: _transferred | some kind in ["la-social-care", "lea", "pct"]; _from_broker},
	"refusal": {
		"allow": false,
		"basis": "no-rule",
		"remove": [],
		"reason": "the broker transfers the record only to social care, education and PCT of the new area (rule 5)",
	},
} if {
	input.event.name == "index.transferred"
}

_from_broker if {
	input.event.publisher == "broker"
	input.event.data.area == relationship.area
}

_transferred := {
	"allow": true,
	"basis": "s12-move",
	"remove": [],
	"reason": "the index record follows the child to the new area (ECM 3.36, s.12(4))",
}
