# METADATA
# title: The sharing matrix (matrix.yaml, legend.yaml)
# description: |
#   What an information-governance lead decides is data: for each event type, relationship
#   and agency kind, the basis, the fields removed, the reason and its legal source
#   (matrix.yaml, loaded as data.matrix; the words of each code in legend.yaml, loaded as
#   data.legend). This package reads the row of the event and gives the rule packages the
#   `rule` object ecm.rego applies (index.rego describes it), by column:
#     area      -> local        agency kind -> decision
#     involved  -> involved     agency kind -> decision; `any` -> involved_any
#     related   -> related      agency kind -> decision
#     named     -> named_kinds  agency kind -> decision; `any` -> named_any; the rule
#                               packages name the participants (concern.rego, residence.rego)
#     otherwise -> refused      agency kind -> denial; `any` -> refusal
#   A cell applies when its condition (`when`, legend.yaml) holds. An `any` cell of area or
#   related stands for every agency kind, or with a per-agency condition for the kinds it
#   holds for; a cell naming the kind beats it. `allow` is true in the columns that send and
#   false in otherwise; the contract (contract_test.rego, and the broker's check of the
#   data) holds each cell's basis to the legend, which says the same.
#   The statutory mechanics stay in the rule packages and ecm.rego: which participants an
#   event names, what only the broker may send, consent validity, scope, rule 2.
#
#   Performance: building the rule object per event would cost about 40% more than the
#   literal objects the rules held before the matrix. The broker therefore builds every
#   row's rule objects once, when it loads a policy (prebuilt), and `rule` reads the one for
#   the event and the conditions that hold; opa test, without them, builds it per event.
#   matrix_test.rego and broker/policy check that both ways decide alike.
package ecm.matrix

import data.ecm.consent
import data.ecm.moves
import data.ecm.scope

# METADATA
# description: |
#   The matrix row of this event: the move's when an address change moves the child to
#   another area (moves.rego), else the event's own or the row it is the same as. (Read with
#   the event's name in the reference, so that the impact analysis sees which row each
#   event type reads.)
row := data.matrix.events[moves.move_row] if {
	moves.new_area
} else := r if {
	r := data.matrix.events[input.event.name]
	not r.same_as
} else := data.matrix.events[data.matrix.events[input.event.name].same_as]

# METADATA
# description: |
#   The `rule` object of this event's row (the named column's decisions under named_kinds and
#   named_any, for the rule packages that name participants): the one the broker built when
#   it loaded the policy (data.matrix_rules, see prebuilt), else built here.
rule := _expand(base, pre.expand) if {
	pre := data.matrix_rules[_key]
	base := pre.rules[concat(",", [c | some c in pre.when; holds[c]])]
} else := _expand(_built, _expand_cells(row))

_key := moves.move_row if {
	moves.new_area
} else := input.event.name

# METADATA
# description: |
#   The rule object of every row, for each combination of the per-event conditions its
#   cells name (keyed by those that hold, joined by commas), from data alone; with the `any`
#   cells that name a per-agency condition, which are expanded per event. The broker
#   evaluates this once when it loads a policy and keeps it as data.matrix_rules, so that
#   deciding an event reads a prebuilt object instead of building one (broker/policy).
prebuilt[key] := {"when": conds, "rules": rules, "expand": _expand_cells(r)} if {
	some key, _ in data.matrix.events
	r := _resolve(key)
	conds := sort({c |
		some cells in r
		some cell in cells
		c := cell.when
		not data.legend.conditions[c].per_agency
	})
	rules := {concat(",", s): x |
		some s in _subsets(conds)
		h := object.union({"always": true}, {c: true | some c in s})
		x := _built with row as r with holds as h
	}
}

_resolve(key) := data.matrix.events[data.matrix.events[key].same_as] if {
	data.matrix.events[key].same_as
} else := data.matrix.events[key]

# Every subset of the list xs, each in the order of xs.
_subsets(xs) := [[x | some i, x in xs; bits.and(mask, bits.lsh(1, i)) != 0] |
	some mask in numbers.range(0, bits.lsh(1, count(xs)) - 1)
]

_built := object.union_n([_slots[col] | some col, _ in row])

# The `any` cells of area and related that name a per-agency condition: per column, the
# condition and the decision.
_expand_cells(r) := {col: {"when": c.when, "decision": _decision(col, c)} |
	some col in ["area", "related"]
	c := r[col].any
	data.legend.conditions[c.when].per_agency
}

# The rule object with each per-agency `any` cell given to the kinds it holds for (a cell
# naming the kind beats it).
_expand(base, cells) := base if {
	count(cells) == 0
} else := object.union(base, {_slot_of[col]: object.union({kind: x.decision | some kind in kinds_for[x.when]}, base[_slot_of[col]]) |
	some col, x in cells
})

_slot_of := {"area": "local", "related": "related"}

_slots["area"] := {"local": object.union(object.get(_expanded, "area", {}), decided.area)}

_slots["related"] := {"related": object.union(object.get(_expanded, "related", {}), decided.related)}

_slots["involved"] := object.union({"involved": decided.involved}, {"involved_any": d | d := single.involved})

_slots["named"] := object.union({"named_kinds": decided.named}, {"named_any": d | d := single.named})

_slots["otherwise"] := object.union({"refusal": single.otherwise}, {"refused": decided.otherwise | count(decided.otherwise) > 0})

# A cell that relies on a data sharing agreement carries its id (ecm.rego refuses the copy
# when the agreement has ended by the event's date).
_decision(col, c) := {"allow": _allows[col], "basis": c.basis, "remove": object.get(c, "remove", []), "reason": c.reason, "agreement": c.agreement} if {
	c.agreement
} else := {"allow": _allows[col], "basis": c.basis, "remove": object.get(c, "remove", []), "reason": c.reason}

# METADATA
# description: |
#   Per column, agency kind -> decision of the cells naming a kind whose condition holds.
decided[col] := {kind: _decision(col, c) |
	some kind, c in cells
	kind != "any"
	holds[object.get(c, "when", "always")]
} if {
	some col
	cells := row[col]
}

# METADATA
# description: Per column, the decision of its `any` cell when its (per-event) condition holds.
single[col] := _decision(col, c) if {
	some col
	c := row[col].any
	holds[object.get(c, "when", "always")]
}

# METADATA
# description: The decision of the named column for the participant id an event names.
named(id) := d if {
	d := rule.named_kinds[split(id, "/")[1]]
} else := rule.named_any

# An `any` cell of area or related whose (per-event) condition holds, for every agency kind.
_expanded := {col: {kind: d | some kind, _ in data.legend.agencies} |
	some col in ["area", "related"]
	c := row[col].any
	holds[object.get(c, "when", "always")]
	d := _decision(col, c)
}

_allows := {"area": true, "involved": true, "related": true, "named": true, "otherwise": false}

# METADATA
# description: The conditions of legend.yaml that hold for this event ("always" for a cell without one).
holds["always"] := true

holds["significant-harm"] if input.event.data.significant_harm == true

holds["no-significant-harm"] if not input.event.data.significant_harm == true

holds["child-present-at-domestic-abuse"] if _witnessed

holds["child-under-5-present-at-domestic-abuse"] if {
	_witnessed
	scope.age < 5
}

_witnessed if {
	input.event.data.kind == "domestic_abuse"
	input.event.data.child_present == true
}

# METADATA
# description: The per-agency conditions of legend.yaml, each with the agency kinds it holds for.
kinds_for["consent-given"] := consent.granted if input.event.name in consent.governed

kinds_for["named-in-the-consent-record"] := {kind | some kind in input.event.data.agencies} if {
	input.event.name in {"consent.granted", "consent.withdrawn"}
}
