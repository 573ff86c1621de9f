# METADATA
# title: Residence reviews (rule 5)
# description: |
#   Rule 2 hangs everything on the child's current area, so the broker changes it only on
#   evidence, and when the evidence conflicts a person resolves it (broker/residence.go):
#   - a registration naming another area than the child's, from a participant outside
#     the child's area, is a claim about residence, not a move; the record keeps its area;
#   - an address change to an area where no participant works is accepted, and nobody
#     there can pick the child up.
#   In both cases the broker generates index.residence.disputed. It goes to children's
#   social care of every area it names: the child's area on the record (data.area), the
#   area claimed (data.claimed_area) and the area the child left (data.previous_area).
#   Social care is the s.10 lead and runs the index (s.12): it is whom "information
#   follows the child across local boundaries" (ECM 3.36) must reach, so that no child
#   drops out of sight between two authorities (choice: the spec is silent; the issue on
#   the record telling the truth asks for it, docs/policies.md).
#   This is the one rule that reaches a participant rule 2 does not relate to the child
#   (the claimed area's social care), the way index.transferred reaches the new area:
#   the event carries no personal data, only the areas, the claimant and the time, so the
#   other authority learns only that it is asked to look at this child (data
#   minimisation, s.12(4)). Only the broker's own event names anyone (fail closed).
#   Who reviews, and why, is the row index.residence.disputed of matrix.yaml (its `named`
#   column). The `rule` object is described in index.rego; `reviewers` is participant id ->
#   decision, whatever rule 2 says.
package ecm.residence

import data.ecm.matrix

# METADATA
# description: The areas a broker-generated residence review names.
areas contains a if {
	input.event.publisher == "broker"
	some field in ["area", "claimed_area", "previous_area"]
	a := input.event.data[field]
	is_string(a)
}

# The `named` column of the row reaches, as reviewers, the participants of the areas
# named whose kind has a cell (children's social care).
rule := object.union(matrix.rule, {"reviewers": {id: matrix.named(id) | some id in _named}}) if {
	input.event.name == "index.residence.disputed"
}

_named contains concat("/", [a, kind]) if {
	some a in areas
	some kind, _ in data.legend.agencies
}
