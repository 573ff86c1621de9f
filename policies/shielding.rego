# METADATA
# title: Shielding (rule 10)
# description: |
#   When the child is shielded (for example a child hidden from a violent parent), the
#   fields that would say where the child lives, learns or sees a doctor are removed from
#   every copy except the one children's social care of the child's area receives, in every
#   event and every replay. "The child's area" is the record's area: for index.transferred
#   the new area (the record after the move); for the address change itself the area the
#   child leaves.
#   The fields, per event type of the catalogue (types not listed have none):
#   - index.child.registered, index.address.changed: data.address
#   - index.education.recorded, education.missing: data.setting
#   - index.gp.recorded: data.practice
#   - index.transferred: data.address, data.education.setting, data.gp.practice (the
#     education record's from/to dates stay)
#   data.area is kept (it routes the event and names only a local authority) and so is
#   education.missing's data.last_seen (a date, not a place): choices, docs/policies.md.
#   ecm.rego applies the paths to every allowed copy but children's social care's of the
#   child's area.
package ecm.shielding

import data.ecm.scope

fields := {
	"index.child.registered": ["data.address"],
	"index.address.changed": ["data.address"],
	"index.education.recorded": ["data.setting"],
	"index.gp.recorded": ["data.practice"],
	"index.transferred": ["data.address", "data.education.setting", "data.gp.practice"],
	"education.missing": ["data.setting"],
}

# METADATA
# description: The paths to remove from this event's copies; undefined when nothing is hidden.
paths := p if {
	p := fields[input.event.name]
	scope.flags.shielded
}

# METADATA
# description: Decision d, with the shielded paths removed as well.
hide(d) := object.union(d, {"remove": array.concat(d.remove, paths)})
