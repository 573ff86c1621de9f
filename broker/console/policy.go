package console

import (
	"io"
	"net/http"
	"net/url"
	"path"
	"sort"
	"strings"

	"github.com/ecm-broker/ecm-broker/api"
)

type policyView struct {
	Live      api.PolicyLive
	Revisions []api.PolicyRevision
	Proposals []api.Proposal
}

func (c *Console) policy(r *http.Request, u *user) (string, view, error) {
	v := view{Title: "Policy", Nav: "policy"}
	var pv policyView
	if err := c.call(r, u, "GET", "/v1/policy", nil, &pv.Live); err != nil {
		return "", v, err
	}
	if err := c.call(r, u, "GET", "/v1/policy/revisions", nil, &pv.Revisions); err != nil {
		return "", v, err
	}
	if err := c.call(r, u, "GET", "/v1/policy/proposals", nil, &pv.Proposals); err != nil {
		return "", v, err
	}
	v.Data = pv
	return "policy", v, nil
}

type revisionView struct {
	Rev   api.PolicyRevision
	Names []string
}

func (c *Console) revision(r *http.Request, u *user) (string, view, error) {
	v := view{Title: "Policy revision", Nav: "policy"}
	var rv revisionView
	if err := c.call(r, u, "GET", "/v1/policy/revisions/"+url.PathEscape(r.PathValue("rev")), nil, &rv.Rev); err != nil {
		return "", v, err
	}
	for n := range rv.Rev.Files {
		rv.Names = append(rv.Names, n)
	}
	sort.Strings(rv.Names)
	v.Title = "Policy revision " + rv.Rev.Revision
	v.Data = rv
	return "revision", v, nil
}

type proposeView struct {
	Base    string
	File    string
	Content string
	Title   string
	Reason  string
	Files   []string
}

// proposeForm offers the live matrix.yaml (or another file of the live
// revision) to edit, or a file to upload.
func (c *Console) proposeForm(r *http.Request, u *user) (string, view, error) {
	v := view{Title: "Propose a policy change", Nav: "policy"}
	var live api.PolicyLive
	if err := c.call(r, u, "GET", "/v1/policy", nil, &live); err != nil {
		return "", v, err
	}
	var rev api.PolicyRevision
	if err := c.call(r, u, "GET", "/v1/policy/revisions/"+url.PathEscape(live.Revision.Revision), nil, &rev); err != nil {
		return "", v, err
	}
	pv := proposeView{Base: rev.Revision, File: "matrix.yaml"}
	if f := r.URL.Query().Get("file"); f != "" {
		pv.File = f
	}
	for n := range rev.Files {
		if strings.HasSuffix(n, ".yaml") || strings.HasSuffix(n, ".csv") {
			pv.Files = append(pv.Files, n)
		}
	}
	sort.Strings(pv.Files)
	pv.Content = rev.Files[pv.File]
	v.Data = pv
	return "propose", v, nil
}

// proposePost sends the edited file (or the uploaded one, which wins) as a
// proposal and shows it.
func (c *Console) proposePost(r *http.Request, u *user) (string, view, error) {
	v := view{Title: "Propose a policy change", Nav: "policy"}
	name := path.Clean(strings.TrimSpace(r.PostFormValue("file")))
	content := r.PostFormValue("content")
	if f, fh, err := r.FormFile("upload"); err == nil {
		b, err := io.ReadAll(io.LimitReader(f, maxForm))
		f.Close()
		if err != nil {
			return "", v, err
		}
		if len(b) > 0 {
			content = string(b)
			if name == "" || name == "." {
				name = path.Base(fh.Filename)
			}
		}
	}
	title, reason := strings.TrimSpace(r.PostFormValue("title")), strings.TrimSpace(r.PostFormValue("reason"))
	switch {
	case title == "" || reason == "":
		return "", v, refuse(http.StatusBadRequest, "A proposal needs a title and a reason: whoever approves it reads them, and the audit keeps them.")
	case name == "" || name == "." || strings.HasPrefix(name, "..") || strings.HasPrefix(name, "/"):
		return "", v, refuse(http.StatusBadRequest, "Name the file the draft changes, as in the policy (for example matrix.yaml or scenarios/sharing.csv).")
	case strings.TrimSpace(content) == "":
		return "", v, refuse(http.StatusBadRequest, "The file %s is empty: edit its text or upload a file.", name)
	}
	req := api.ProposalRequest{Title: title, Reason: reason, Files: map[string]string{name: strings.ReplaceAll(content, "\r\n", "\n")}}
	var p api.Proposal
	if err := c.call(r, u, "POST", "/v1/policy/proposals", req, &p); err != nil {
		return "", v, err
	}
	return "redirect:/console/policy/proposals/" + url.PathEscape(p.ID), v, nil
}

type proposalView struct {
	P        api.Proposal
	Own      bool
	Bars     []bar
	BarMax   int
	ChartH   int
	Decision bool // the operator may give a verdict now
}

// bar is one participant's row of the impact chart.
type bar struct {
	Participant                  string
	EventsGained, EventsLost     int
	ChildrenGained, ChildrenLost int
	Y                            int
	WEG, WEL, WCG, WCL           int
}

const barWidth = 260 // px of the longest bar

func (c *Console) proposal(r *http.Request, u *user) (string, view, error) {
	v := view{Title: "Proposal", Nav: "policy"}
	var pv proposalView
	if err := c.call(r, u, "GET", "/v1/policy/proposals/"+url.PathEscape(r.PathValue("id")), nil, &pv.P); err != nil {
		return "", v, err
	}
	pv.Own = pv.P.Author == u.Name
	pv.Decision = u.Has("policy") && !pv.Own && pv.P.State == api.ProposalOpen
	if im := pv.P.Impact; im != nil {
		max := 1
		for _, p := range im.Participants {
			for _, n := range []int{p.EventsGained, p.EventsLost, p.ChildrenGained, p.ChildrenLost} {
				if n > max {
					max = n
				}
			}
		}
		scale := func(n int) int {
			if n == 0 {
				return 0
			}
			return max1(n * barWidth / max)
		}
		for i, p := range im.Participants {
			pv.Bars = append(pv.Bars, bar{Participant: p.Participant, EventsGained: p.EventsGained, EventsLost: p.EventsLost,
				ChildrenGained: p.ChildrenGained, ChildrenLost: p.ChildrenLost, Y: i * 56,
				WEG: scale(p.EventsGained), WEL: scale(p.EventsLost), WCG: scale(p.ChildrenGained), WCL: scale(p.ChildrenLost)})
		}
		pv.BarMax = max
		pv.ChartH = len(pv.Bars)*56 + 8
	}
	v.Title = "Proposal: " + pv.P.Title
	v.Data = pv
	return "proposal", v, nil
}

func max1(n int) int {
	if n < 2 {
		return 2
	}
	return n
}

// verdictPost approves or refuses a proposal; the API refuses an author's
// verdict on their own proposal (four eyes).
func (c *Console) verdictPost(r *http.Request, u *user) (string, view, error) {
	v := view{Title: "Proposal", Nav: "policy"}
	verdict := r.PathValue("verdict")
	if verdict != "approve" && verdict != "refuse" {
		return "", v, refuse(http.StatusNotFound, "A proposal can be approved or refused, nothing else.")
	}
	reason := strings.TrimSpace(r.PostFormValue("reason"))
	if reason == "" {
		return "", v, refuse(http.StatusBadRequest, "Say why you %s the proposal: the reason is kept in the audit with your name.", verdict)
	}
	id := r.PathValue("id")
	var p api.Proposal
	if err := c.call(r, u, "POST", "/v1/policy/proposals/"+url.PathEscape(id)+"/"+verdict, api.ProposalVerdict{Reason: reason}, &p); err != nil {
		return "", v, err
	}
	return "redirect:/console/policy/proposals/" + url.PathEscape(id), v, nil
}
