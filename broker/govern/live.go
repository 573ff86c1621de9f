package govern

import (
	"context"
	"slices"
	"strings"

	"github.com/ecm-broker/ecm-broker/api"
	"github.com/ecm-broker/ecm-broker/broker/config"
	"github.com/ecm-broker/ecm-broker/policies"
)

// Live is the policy deciding now: its revision as recorded, its sharing
// matrix in words, and whether hot reload is on.
func (g *Govern) Live(ctx context.Context) (*api.PolicyLive, error) {
	rev, err := g.LiveRevision(ctx)
	if err != nil {
		return nil, err
	}
	rev.Files = nil
	out := &api.PolicyLive{Revision: *rev, Matrix: []api.MatrixRow{}, Reloading: "off"}
	if g.d.Reloader != nil {
		if w := g.d.Reloader.Watching(); w != "" {
			out.Reloading = w
		}
		out.Refused = g.d.Reloader.Refused()
	}
	if g.d.Decider == nil {
		return out, nil
	}
	p := g.d.Decider.Policy()
	if p.Revision != rev.Revision { // a reload or another instance's approval is being recorded
		out.Revision = api.PolicyRevision{Revision: p.Revision, Title: "being recorded"}
	}
	out.Matrix = MatrixRows(p.Data, g.d.Config)
	return out, nil
}

// MatrixRows are the cells of a policy's sharing matrix in words: per row
// (event type), relationship column and agency kind, what is shared, on
// which basis, without which fields, why and under which law. Agencies are
// named as the legend names their kind, followed by the display names the
// configuration gives its participants of that kind.
func MatrixRows(data *policies.Data, cfg *config.Config) []api.MatrixRow {
	m, ok, err := data.Matrix()
	if err != nil || !ok {
		return []api.MatrixRow{}
	}
	l, ok, err := data.Legend()
	if err != nil || !ok {
		if l, err = policies.BuiltinLegend(); err != nil {
			return []api.MatrixRow{}
		}
	}
	names := map[string][]string{} // agency kind → configured display names
	if cfg != nil {
		for _, p := range cfg.Participants {
			if p.Name != "" && !slices.Contains(names[p.Agency], p.Name) {
				names[p.Agency] = append(names[p.Agency], p.Name)
			}
		}
	}
	out := []api.MatrixRow{}
	for _, key := range m.Rows() {
		row, _ := m.Resolve(key)
		for _, col := range policies.Columns {
			cells := row.Columns[col]
			for _, kind := range policies.Kinds(cells) {
				cell := cells[kind]
				agency := "any agency"
				if a, ok := l.Agencies[kind]; ok {
					agency = a.Name
				}
				if ns := names[kind]; len(ns) > 0 {
					agency += " (" + strings.Join(ns, ", ") + ")"
				}
				rel := col
				if r, ok := l.Relationships[col]; ok {
					rel = r.Meaning
				}
				reason := cell.Reason
				if cell.When != "" {
					when := cell.When
					if c, ok := l.Conditions[cell.When]; ok {
						when = c.Meaning
					}
					reason += " (only when " + when + ")"
				}
				source := cell.Source
				if source == "" {
					source = l.Bases[cell.Basis].Source
				}
				removed := cell.Remove
				if removed == nil {
					removed = []string{}
				}
				out = append(out, api.MatrixRow{EventType: key, Agency: kind, AgencyName: agency, Relationship: rel,
					Shared: l.Bases[cell.Basis].Allow, Basis: cell.Basis, Removed: removed, Reason: reason, Source: source})
			}
		}
	}
	return out
}
