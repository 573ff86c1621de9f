package console

import (
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/ecm-broker/ecm-broker/api"
)

// item is one thing a subject-access report holds that an IG lead may
// withhold from the copy released (api.WithheldItem without the ground).
type item struct {
	Index int
	Label string
	Item  api.WithheldItem
}

type reviewView struct {
	UIN      string
	Items    []item
	Released *api.ReviewedSubjectAccess
	Timeline []entry
}

// reviewItems lists what may be withheld: each event held, each decision,
// each copy disclosed and each refused input.
func reviewItems(sa *api.SubjectAccess) []item {
	var out []item
	add := func(label string, w api.WithheldItem) {
		out = append(out, item{Index: len(out), Label: label, Item: w})
	}
	for _, h := range sa.Events {
		var ev struct{ Type, Time string }
		_ = jsonHead(h.Event, &ev)
		add(fmt.Sprintf("Event %s from %s, %s", shortType(ev.Type), h.Publisher, when(ev.Time)), api.WithheldItem{Kind: "event", Seq: h.Seq})
	}
	for _, rec := range sa.Decisions {
		if rec.Action != nil || rec.Outcome == "copies" {
			continue
		}
		add(fmt.Sprintf("Decision about %s from %s, %s", shortType(rec.Type), rec.Publisher, when(rec.DecidedAt)), api.WithheldItem{Kind: "decision", ID: rec.EventID})
	}
	for _, d := range sa.Disclosures {
		add(fmt.Sprintf("Copy of %s sent to %s, %s", shortType(d.Type), d.Participant, when(d.EventTime)),
			api.WithheldItem{Kind: "disclosure", EventID: d.EventID, Participant: d.Participant})
	}
	for _, rj := range sa.Rejected {
		add(fmt.Sprintf("Input refused from %s, %s", rj.DeadLetter.Publisher, rj.DeadLetter.Received.UTC().Format("2 Jan 2006 15:04 UTC")),
			api.WithheldItem{Kind: "rejected", Seq: rj.Seq})
	}
	return out
}

func (c *Console) reviewForm(r *http.Request, u *user) (string, view, error) {
	v := view{Title: "Subject access: review", Nav: "child"}
	s, err := checkUIN(r.URL.Query().Get("uin"))
	if err != nil {
		return "", v, err
	}
	var sa api.SubjectAccess
	if err := c.call(r, u, "GET", "/v1/sar?child="+url.QueryEscape(s), nil, &sa); err != nil {
		return "", v, err
	}
	v.Data = reviewView{UIN: s, Items: reviewItems(&sa)}
	return "review", v, nil
}

// reviewPost sends the items marked to withhold, each with its ground and
// reason, and shows the report as released, ready to print.
func (c *Console) reviewPost(r *http.Request, u *user) (string, view, error) {
	v := view{Title: "Subject access: as released", Nav: "child"}
	s, err := checkUIN(r.PostFormValue("uin"))
	if err != nil {
		return "", v, err
	}
	req := api.SARReviewRequest{Child: s, Withhold: []api.WithheldItem{}}
	for _, idx := range r.PostForm["withhold"] {
		i, err := strconv.Atoi(idx)
		if err != nil {
			continue
		}
		w := api.WithheldItem{Kind: r.PostFormValue(fmt.Sprintf("kind_%d", i)), ID: r.PostFormValue(fmt.Sprintf("id_%d", i)),
			EventID: r.PostFormValue(fmt.Sprintf("event_%d", i)), Participant: r.PostFormValue(fmt.Sprintf("participant_%d", i)),
			Ground: r.PostFormValue(fmt.Sprintf("ground_%d", i)), Reason: strings.TrimSpace(r.PostFormValue(fmt.Sprintf("reason_%d", i)))}
		w.Seq, _ = strconv.ParseUint(r.PostFormValue(fmt.Sprintf("seq_%d", i)), 10, 64)
		if w.Reason == "" {
			return "", v, refuse(http.StatusBadRequest, "Item %d is marked to withhold without a reason: say why it is withheld (the requester is told that something was withheld and on what ground).", i+1)
		}
		req.Withhold = append(req.Withhold, w)
	}
	var out api.ReviewedSubjectAccess
	if err := c.call(r, u, "POST", "/v1/sar/review", req, &out); err != nil {
		return "", v, err
	}
	rv := reviewView{UIN: s, Released: &out}
	rv.Timeline, _ = timeline(&out.Report)
	v.Data = rv
	return "released", v, nil
}
