# METADATA
# title: Scope and age limits (rules 1 and 11)
# description: |
#   Whether the child is within the Children Act 2004 at all (s.10(9)), and which
#   age-limited agencies may hear about them. Every fact here is a complete rule, so OPA
#   computes it once per event; the top-level decision only looks them up per candidate.
package ecm.scope

# METADATA
# description: |
#   The child's age in whole years at the event, from the index record's date of birth
#   (spec: "C's age is taken from the index record's date of birth at the event's time").
#   It changes at midnight UTC on the birthday (up to an hour late in British Summer Time);
#   someone born on 29 February is a year older on 1 March in other years, as in English
#   law. Undefined when the broker holds no record (child is null) or the record has no
#   usable date of birth.
age := time.diff(time.parse_rfc3339_ns(input.event.time), time.parse_ns("2006-01-02", input.child.dob))[0]

# METADATA
# description: |
#   Age in whole years at RFC 3339 time `t` of someone born on ISO date `dob`, as for `age`
#   (which spells the formula out, saving a function call per event). time.diff
#   measures between the two whichever comes first, so an event before the date of birth (a
#   pre-birth referral) counts as age 0 as long as it is less than a year before.
age_at(t, dob) := time.diff(time.parse_rfc3339_ns(t), time.parse_ns("2006-01-02", dob))[0]

# METADATA
# description: |
#   The child's flags for this event: true when the index record says so or, for an
#   index.flags.set event, when the event sets it. The event that changes a flag is decided
#   with the change counted (a flag it clears still counts for that one event), so everyone
#   whose view of the child it changes hears of it, and setting `shielded` shields that very
#   event (choice: docs/policies.md).
flags := object.union_n([
	{"shielded": false, "care_leaver": false, "learning_difficulty": false},
	{name: true | some name, value in input.child.flags; value == true},
	{name: true | input.event.name == "index.flags.set"; some name, value in input.event.data; value == true},
])

# METADATA
# scope: document
# description: |
#   Rule 1, s.10(9): the Act's arrangements cover children (under 18, s.65) and young people
#   aged 18 and 19 (s.10(9)(a)), care leavers over 19 receiving services under Children Act
#   1989 ss.23C-24D, here under 21 (s.10(9)(b)), and persons under 25 with learning
#   difficulties receiving services under the Learning and Skills Act 2000 (s.10(9)(c));
#   explanatory notes para 66. Out of scope, nobody receives anything.
default in_scope := false

# The first rule decides for most children without reading the flags.
in_scope if age < 20

in_scope if age < _scope_ends

# Spec: with no index record the child counts as in scope, so that a referral about a child
# nobody has registered still reaches children's social care. A record without a usable date
# of birth is treated the same way (choice).
in_scope if not age_known

# (Written this way because `not is_number(age)` would fail, not succeed, when age is
# undefined: OPA evaluates `age` before the negation.)
age_known if is_number(age)

# The age at which the child leaves the scope of s.10(9).
default _scope_ends := 20

_scope_ends := 25 if {
	flags.learning_difficulty
} else := 21 if {
	flags.care_leaver
}

out_of_scope_reason := sprintf(
	"the child is %d, outside s.10(9) (%s): nobody receives this event (rule 1)",
	[age, "under 20, a care leaver under 21, or under 25 with a learning difficulty"],
)

# METADATA
# scope: document
# description: |
#   Rules 1 and 11: the agency kinds that receive nothing about this child whatever else
#   allows it, overrides included. Connexions (s.10(4)(f)) serves ages 13 to 19, and to 24
#   with a learning difficulty; youth offending teams serve ages 10 to 17. With an unknown
#   age neither receives anything (spec).
default age_limited := {"connexions", "yot"}

age_limited := set() if {
	age >= 13
	age < 18
} else := {"connexions"} if {
	age >= 10
	age < 13
} else := {"yot"} if {
	age >= 18
	age < _connexions_ends
}

default _connexions_ends := 20

_connexions_ends := 25 if flags.learning_difficulty
