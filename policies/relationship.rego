# METADATA
# title: Relationship (rule 2)
# description: |
#   Who has a relationship with the child at all. A participant receives events about a
#   child only if it works in the child's current area or has a recorded involvement with
#   the child, wherever it is: s.10(1) makes the authority's arrangements about children "in
#   the authority's area", and s.12(4) records the practitioners providing a service.
#   Nothing goes to anyone else, whatever the later rules say (so a participant that flagged
#   a concern but is neither in the child's area nor involved hears nothing, not even of a
#   match), and the publisher never receives its own event back. ecm.rego applies these
#   facts to each candidate.
package ecm.relationship

# METADATA
# description: |
#   The child's current area: the index record's, or the publisher's when the broker holds
#   no record for the child yet (spec).
area := input.child.area if {
	is_string(input.child.area)
} else := split(input.event.publisher, "/")[0]

# METADATA
# description: |
#   Participants with an active practitioner involvement on the record (s.12(4), "name and
#   contact details of any person providing a service"). An ended involvement no longer
#   counts (choice: the service has stopped).
involved contains i.participant if {
	some i in input.child.involvements
	i.active == true
}
