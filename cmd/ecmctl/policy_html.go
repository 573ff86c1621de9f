package main

import (
	"html/template"
	"io"
	"strings"
	"time"

	"github.com/ecm-broker/ecm-broker/policies"
)

// htmlCell is what one agency kind gets from one row: a line per column.
type htmlCell struct {
	Lines []htmlLine
}

type htmlLine struct {
	Column, Basis, Without, When, Source, Reason, Agreement string
	Allow                                                   bool
}

type htmlRow struct {
	Event, SameAs string
	Cells         []htmlCell // per agency kind, then "any agency", then "everyone else"
}

type htmlPage struct {
	Where, Generated string
	Revision         int
	Kinds            []string // column headings
	Rows             []htmlRow
	Legend           *policies.Legend
	Bases, Conds     []string
	Reasons          []string
	Agreements       []htmlAgreement
}

// htmlAgreement is one agreement of the register, with what is due.
type htmlAgreement struct {
	ID  string
	A   policies.Agreement
	Due string
}

// writeMatrixHTML writes the sharing matrix as one printable page: a row per
// event type, a column per agency kind (and one for cells naming any kind,
// one for the refusal of everyone else), and the legend below.
func writeMatrixHTML(w io.Writer, where string, m *policies.Matrix, l *policies.Legend, reg map[string]policies.Agreement) error {
	kinds := policies.Codes(l.Agencies)
	page := htmlPage{Where: where, Generated: time.Now().UTC().Format("2 January 2006"), Revision: m.Revision, Legend: l,
		Bases: policies.Codes(l.Bases), Conds: policies.Codes(l.Conditions), Reasons: policies.Codes(l.Reasons)}
	for _, k := range kinds {
		page.Kinds = append(page.Kinds, l.Agencies[k].Name)
	}
	page.Kinds = append(page.Kinds, "any agency", "everyone else related")
	due := map[string]string{}
	for _, d := range policies.DueForReview(reg, time.Now()) {
		due[d.ID] = d.Says
	}
	for _, id := range policies.Codes(reg) {
		page.Agreements = append(page.Agreements, htmlAgreement{ID: id, A: reg[id], Due: due[id]})
	}
	for _, key := range m.Rows() {
		row := m.Events[key]
		hr := htmlRow{Event: key, SameAs: row.SameAs}
		if row.SameAs == "" {
			hr.Cells = make([]htmlCell, len(kinds)+2)
			for _, col := range policies.Columns {
				for kind, cell := range row.Columns[col] {
					i := len(kinds)
					switch {
					case col == "otherwise" && kind == "any":
						i = len(kinds) + 1
					case kind != "any":
						for j, k := range kinds {
							if k == kind {
								i = j
							}
						}
					}
					hr.Cells[i].Lines = append(hr.Cells[i].Lines, htmlLine{Column: col, Basis: cell.Basis,
						Without: strings.Join(cell.Remove, ", "), When: cell.When, Source: cell.Source, Reason: cell.Reason,
						Agreement: cell.Agreement, Allow: l.Bases[cell.Basis].Allow})
				}
			}
		}
		page.Rows = append(page.Rows, hr)
	}
	return matrixPage.Execute(w, page)
}

var matrixPage = template.Must(template.New("matrix").Parse(`<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>Sharing matrix, revision {{.Revision}}</title>
<style>
@page { size: A3 landscape; margin: 10mm; }
body { font: 9pt/1.3 sans-serif; color: #111; margin: 0 1em; }
h1 { font-size: 14pt; margin: .5em 0 .2em; }
h2 { font-size: 11pt; margin: 1em 0 .3em; }
p.meta { color: #555; margin: 0 0 .6em; }
table { border-collapse: collapse; width: 100%; page-break-inside: auto; }
tr { page-break-inside: avoid; }
th, td { border: 1px solid #999; padding: 2px 4px; vertical-align: top; text-align: left; }
th { background: #eee; }
td.event { font-family: monospace; white-space: nowrap; }
div.send { color: #064; }
div.refuse { color: #822; }
span.col { color: #555; font-style: italic; }
span.src { color: #555; font-size: 8pt; }
div.why { color: #444; font-size: 7.5pt; margin-bottom: 2px; }
td.same { color: #555; }
table.legend td:first-child { font-family: monospace; white-space: nowrap; }
</style>
</head>
<body>
<h1>Sharing matrix, revision {{.Revision}}</h1>
<p class="meta">From {{.Where}}, printed {{.Generated}}. Each cell: who in that relationship receives the event (green, with the basis and the fields left out) or is refused (red), when, and the law it rests on.
A participant neither in the child's area nor involved with the child receives nothing (no-relationship), whatever this table says; the publisher never receives its own event back; scope, age limits, consent, overrides and shielding apply on top (docs/policies.md).</p>
<table>
<thead><tr><th>event</th>{{range .Kinds}}<th>{{.}}</th>{{end}}</tr></thead>
<tbody>
{{range .Rows}}<tr><td class="event">{{.Event}}</td>{{if .SameAs}}<td class="same" colspan="{{len $.Kinds}}">as {{.SameAs}}</td>{{else}}{{range .Cells}}<td>{{range .Lines}}<div class="{{if .Allow}}send{{else}}refuse{{end}}"><span class="col">{{.Column}}:</span> {{.Basis}}{{if .Without}} without {{.Without}}{{end}}{{if .When}} when {{.When}}{{end}}{{if .Agreement}} under agreement {{.Agreement}}{{end}} <span class="src">({{.Source}})</span><div class="why">{{.Reason}}</div></div>{{end}}</td>{{end}}{{end}}</tr>
{{end}}</tbody>
</table>
{{if .Agreements}}<h2>Data sharing agreements</h2>
<table class="legend">
<thead><tr><th>agreement</th><th>title and purpose</th><th>parties</th><th>lawful basis</th><th>DPIA</th><th>signed</th><th>review by</th><th>ends</th><th>due</th></tr></thead>
<tbody>
{{range .Agreements}}<tr><td>{{.ID}}</td><td>{{.A.Title}}: {{.A.Purpose}}</td><td>{{range $i, $p := .A.Parties}}{{if $i}}, {{end}}{{$p}}{{end}}</td><td>{{.A.LawfulBasis}}</td><td>{{.A.DPIA}}</td><td>{{.A.Signed}}</td><td>{{.A.ReviewBy}}</td><td>{{.A.Ends}}</td><td>{{if .Due}}<strong>{{.Due}}</strong>{{end}}</td></tr>
{{end}}</tbody>
</table>
{{end}}<h2>Bases</h2>
<table class="legend">
<thead><tr><th>basis</th><th></th><th>what it means</th><th>in words for a family</th><th>law</th></tr></thead>
<tbody>
{{range $code := .Bases}}{{with index $.Legend.Bases $code}}<tr><td>{{$code}}</td><td>{{if .Allow}}sends{{else}}refuses{{end}}{{if .By}} ({{.By}}){{end}}</td><td>{{.Meaning}}</td><td>{{.Family}}</td><td>{{.Source}}</td></tr>{{end}}
{{end}}</tbody>
</table>
<h2>Conditions</h2>
<table class="legend">
<thead><tr><th>condition</th><th>holds when</th><th>law</th></tr></thead>
<tbody>
{{range $code := .Conds}}{{with index $.Legend.Conditions $code}}<tr><td>{{$code}}</td><td>{{.Meaning}}{{if .PerAgency}} (per agency kind){{end}}</td><td>{{.Source}}</td></tr>{{end}}
{{end}}</tbody>
</table>
<h2>Refusals the statutory rules give</h2>
<table class="legend">
<thead><tr><th>reason</th><th>basis</th><th>the decision says</th><th>in words for a family</th><th>law</th></tr></thead>
<tbody>
{{range $code := .Reasons}}{{with index $.Legend.Reasons $code}}<tr><td>{{$code}}</td><td>{{.Basis}}</td><td>{{.Text}}</td><td>{{.Family}}</td><td>{{.Source}}</td></tr>{{end}}
{{end}}</tbody>
</table>
</body>
</html>
`))
