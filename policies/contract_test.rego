# METADATA
# title: The contract of the sharing matrix
# description: |
#   Runs with the policies (opa test, and the broker before a policy may serve), so that a
#   draft of matrix.yaml or legend.yaml that breaks the contract is refused: every event
#   type of the catalogue has a row; a same_as names a row with cells of its own; every
#   cell's basis is in the legend, allowing in the columns that send and refusing in
#   otherwise, and never the broker's own; its condition is in the legend, a per-agency one
#   only on the `any` cell of area or related; every row refuses everyone else (otherwise /
#   any, unconditionally); every reason of the legend refuses, and the words the statutory
#   rules give are the legend's. A failure prints the cells at fault. The broker checks the
#   same with line numbers, and that removed fields exist (policies/matrix.go, Check).
package ecm.contract_test

import data.ecm
import data.ecm.fixtures_test as f

_sending := {"area": true, "involved": true, "related": true, "named": true, "otherwise": false}

_rows := object.union({name: true | some name, _ in ecm._catalogue}, {data.ecm.moves.move_row: true})

# METADATA
# description: Each breach of the contract, naming the row, column and agency kind.
problems contains sprintf("%s has no row: every event type of the catalogue needs one", [name]) if {
	some name, _ in _rows
	not data.matrix.events[name]
}

problems contains sprintf("%s: same_as %s, which is not a row with cells of its own", [key, row.same_as]) if {
	some key, row in data.matrix.events
	row.same_as
	not _has_cells(data.matrix.events[row.same_as])
}

problems contains sprintf("%s has no otherwise / any: the refusal for everyone else", [key]) if {
	some key, row in data.matrix.events
	not row.same_as
	not row.otherwise.any
}

problems contains sprintf("%s / otherwise / any: the refusal for everyone else always applies (no when)", [key]) if {
	some key, row in data.matrix.events
	row.otherwise.any.when
}

problems contains sprintf("%s / %s / %s: basis %q is not in the legend", [key, col, kind, cell.basis]) if {
	some [key, col, kind, cell] in _cells
	not data.legend.bases[cell.basis]
}

problems contains sprintf("%s / %s / %s: basis %q is the broker's own", [key, col, kind, cell.basis]) if {
	some [key, col, kind, cell] in _cells
	data.legend.bases[cell.basis].by
}

problems contains sprintf("%s / %s / %s: basis %q does not agree with the column (allow: %v)", [key, col, kind, cell.basis, allow]) if {
	some [key, col, kind, cell] in _cells
	allow := data.legend.bases[cell.basis].allow
	allow != _sending[col]
}

problems contains sprintf("%s / %s / %s: condition %q is not in the legend", [key, col, kind, cell.when]) if {
	some [key, col, kind, cell] in _cells
	cell.when
	not data.legend.conditions[cell.when]
}

problems contains sprintf("%s / %s / %s: condition %q is per agency kind: only on area or related / any", [key, col, kind, cell.when]) if {
	some [key, col, kind, cell] in _cells
	data.legend.conditions[cell.when].per_agency
	not _expandable(col, kind)
}

problems contains sprintf("legend reason %s: basis %q is not a refusing basis of the legend", [id, r.basis]) if {
	some id, r in data.legend.reasons
	not data.legend.bases[r.basis].allow == false
}

# Every cell, as [row, column, agency kind, cell].
_cells contains [key, col, kind, cell] if {
	some key, row in data.matrix.events
	some col, cells in row
	col != "same_as"
	some kind, cell in cells
}

_has_cells(row) if {
	not row.same_as
	count(row) > 0
}

_expandable(col, "any") if col in {"area", "related"}

# The broker names the failing test and what it printed.
test_the_matrix_keeps_the_contract if {
	print("contract problems:", problems)
	count(problems) == 0
}

# The contract catches each kind of mistake, naming the cell.
_broken := object.union(object.remove(f.matrix.events, ["caf.completed", "youthjustice.order"]), {
	"police.incident": object.union(f.matrix.events["police.incident"], {
		"area": {
			"lea": {"basis": "made-up", "reason": "r", "source": "s"},
			"pct": {"basis": "no-rule", "reason": "r", "source": "s"},
			"police": {"basis": "policy-error", "reason": "r", "source": "s"},
			"yot": {"basis": "consent", "when": "consent-given", "reason": "r", "source": "s"},
			"connexions": {"basis": "consent", "when": "at-full-moon", "reason": "r", "source": "s"},
		},
		"otherwise": {"any": {"basis": "no-rule", "when": "significant-harm", "reason": "r", "source": "s"}},
	}),
	"caf.completed": {"area": {}},
	"connexions.neet": {"same_as": "education.exclusion"},
})

test_the_contract_names_the_cells_at_fault if {
	got := problems with data.matrix.events as _broken
	got == {
		"youthjustice.order has no row: every event type of the catalogue needs one",
		"connexions.neet: same_as education.exclusion, which is not a row with cells of its own",
		"caf.completed has no otherwise / any: the refusal for everyone else",
		"police.incident / otherwise / any: the refusal for everyone else always applies (no when)",
		"police.incident / area / lea: basis \"made-up\" is not in the legend",
		"police.incident / area / pct: basis \"no-rule\" does not agree with the column (allow: false)",
		"police.incident / area / police: basis \"policy-error\" is the broker's own",
		"police.incident / area / police: basis \"policy-error\" does not agree with the column (allow: false)",
		"police.incident / area / yot: condition \"consent-given\" is per agency kind: only on area or related / any",
		"police.incident / area / connexions: condition \"at-full-moon\" is not in the legend",
	}
}

test_the_contract_checks_the_legends_reasons if {
	got := problems with data.legend.reasons["own-event"].basis as "consent"
	got == {"legend reason own-event: basis \"consent\" is not a refusing basis of the legend"}
}

# The statutory rules give the legend's words (the Rego keeps them as literals, so that a
# decision builds nothing; this keeps the two the same).
_reason(id) := data.legend.reasons[id].text

test_statutory_reasons_are_the_legends if {
	d := ecm.decision with input as f.usual(f.event("police.incident", "leeds/police", {"kind": "other"}), 9)
	d["leeds/police"].reason == _reason("own-event")
	d["leeds/connexions"].reason == _reason("connexions-age-limit")
	d["leeds/yot"].reason == _reason("yot-age-limit")
	d["york/pct"].reason == _reason("not-related")

	unknown := ecm.decision with input as f.usual(f.event("index.unknown.v2", "leeds/pct", {}), 9)
	unknown["leeds/pct"].reason == _reason("not-in-catalogue")

	old := ecm.decision with input as f.usual(f.event("index.gp.recorded", "leeds/pct", {}), 22)
	old["leeds/pct"].reason == sprintf(_reason("out-of-scope"), [22])

	move := f.event("index.address.changed", "leeds/pct", {"address": {}, "area": "york"})
	moved := ecm.decision with input as f.usual(move, 9)
	moved["york/pct"].reason == _reason("new-area-waits-for-transfer")
}

test_consent_reasons_are_the_legends if {
	caf := f.event("caf.completed", "leeds/pct", {})
	expired := object.union(f.grant(1, "parent", ["caf"], ["lea"]), {"expires": "2026-04-30"})
	entries := [
		expired,
		f.grant(2, "child", ["caf"], ["pct"]),
		f.grant(3, "neighbour", ["caf"], ["police"]),
		f.grant(4, "parent", ["caf"], ["la-social-care"]),
		f.withdrawal(5, ["caf"], ["la-social-care"]),
	]
	d := ecm.decision with input as f.input_for(caf, f.child(9), {"entries": entries}, array.concat(f.leeds, ["leeds/lea"]))
	d["leeds/lea"].reason == _reason("consent-expired")
	d["leeds/pct"].reason == _reason("own-event")
	d["leeds/police"].reason == _reason("consent-given-by-whom")
	d["leeds/la-social-care"].reason == _reason("consent-withdrawn")
	under := ecm.decision with input as f.input_for(caf, f.child(9), {"entries": [f.grant(2, "child", ["caf"], ["lea"])]}, ["leeds/lea"])
	under["leeds/lea"].reason == _reason("consent-child-under-12")
}
