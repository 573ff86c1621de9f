package console

import (
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/ecm-broker/ecm-broker/api"
	"github.com/ecm-broker/ecm-broker/schemas"
	"github.com/ecm-broker/ecm-broker/uin"
)

// whatIfForm is the what-if form: an event and a hypothetical child.
type whatIfForm struct {
	Type, Publisher, Data, Override string
	Known                           bool
	Age                             int
	Area                            string
	Shielded, CareLeaver, Learning  bool
	Involved                        []string
	Consent                         bool
	ConsentBy                       string
	Purposes, ConsentAgencies       []string
}

type whatIfView struct {
	Form         whatIfForm
	Types        []string
	Participants []string
	Areas        []string
	Purposes     []string
	Agencies     []string
	Result       *api.Explanation
	Sent         bool
}

// hypothetical is the UIN of the what-if child: a valid UIN that is
// nobody's in the demo, never looked up (the what-if reads no child's
// state).
var hypothetical = func() string {
	for n := 999000001; ; n++ {
		if s, ok := uin.WithCheckDigit(strconv.Itoa(n)); ok {
			return s
		}
	}
}()

func (c *Console) whatIf(r *http.Request, u *user) (string, view, error) {
	v := view{Title: "What if", Nav: "whatif"}
	wv := whatIfView{Purposes: schemas.Purposes(), Agencies: schemas.Agencies()}
	for _, n := range schemas.Names() {
		if e, ok := schemas.LookupName(n); ok && !e.Generated {
			wv.Types = append(wv.Types, n)
		}
	}
	areas := map[string]bool{}
	for _, p := range c.cfg.Participants {
		wv.Participants = append(wv.Participants, p.ID)
		if !areas[p.Area] {
			areas[p.Area] = true
			wv.Areas = append(wv.Areas, p.Area)
		}
	}
	f := whatIfForm{Type: "caf.completed", Known: true, Age: 10, ConsentBy: "child"}
	if len(wv.Participants) > 0 {
		f.Publisher = wv.Participants[0]
	}
	if len(wv.Areas) > 0 {
		f.Area = wv.Areas[0]
	}
	if r.Method == http.MethodPost {
		wv.Sent = true
		f = whatIfForm{Type: r.PostFormValue("type"), Publisher: r.PostFormValue("publisher"), Data: r.PostFormValue("data"),
			Override: strings.TrimSpace(r.PostFormValue("override")), Known: r.PostFormValue("known") == "on",
			Area: r.PostFormValue("area"), Shielded: r.PostFormValue("shielded") == "on", CareLeaver: r.PostFormValue("care_leaver") == "on",
			Learning: r.PostFormValue("learning") == "on", Involved: r.PostForm["involved"], Consent: r.PostFormValue("consent") == "on",
			ConsentBy: r.PostFormValue("consent_by"), Purposes: r.PostForm["purpose"], ConsentAgencies: r.PostForm["consent_agency"]}
		age, err := strconv.Atoi(strings.TrimSpace(r.PostFormValue("age")))
		if err != nil || age < 0 || age > 25 {
			return "", v, refuse(http.StatusBadRequest, "The child's age must be a whole number of years from 0 to 25.")
		}
		f.Age = age
		req, err := f.request(time.Now())
		if err != nil {
			return "", v, err
		}
		var out api.Explanation
		if err := c.call(r, u, "POST", "/v1/whatif", req, &out); err != nil {
			return "", v, err
		}
		wv.Result = &out
	}
	wv.Form = f
	v.Data = wv
	return "whatif", v, nil
}

// request builds the what-if request from the form.
func (f whatIfForm) request(now time.Time) (api.WhatIfRequest, error) {
	var data any = map[string]any{}
	if s := strings.TrimSpace(f.Data); s != "" {
		if err := json.Unmarshal([]byte(s), &data); err != nil {
			return api.WhatIfRequest{}, refuse(http.StatusBadRequest, "The event's data is not valid JSON (%v): write it as the agency would send it, for example {\"summary\": \"...\"}.", err)
		}
	}
	ev := map[string]any{"specversion": "1.0", "id": uuid.NewString(), "source": "/" + f.Publisher, "type": schemas.TypeOf(f.Type),
		"subject": hypothetical, "time": now.UTC().Format(time.RFC3339), "datacontenttype": "application/json", "data": data}
	if f.Override != "" {
		ev["override"] = f.Override
	}
	raw, err := json.Marshal(ev)
	if err != nil {
		return api.WhatIfRequest{}, err
	}
	req := api.WhatIfRequest{Event: raw}
	if f.Known {
		rec := &api.IndexRecord{UIN: hypothetical, Area: f.Area, DOB: now.AddDate(-f.Age, 0, -1).Format("2006-01-02"),
			Flags: api.Flags{Shielded: f.Shielded, CareLeaver: f.CareLeaver, LearningDifficulty: f.Learning}}
		for _, p := range f.Involved {
			rec.Involvements = append(rec.Involvements, api.Involvement{Participant: p, Active: true, Service: "what-if",
				Since: now.AddDate(0, -1, 0).UTC().Format(time.RFC3339), Practitioner: map[string]any{"name": "A Practitioner"}})
		}
		req.Child = rec
	}
	if f.Consent {
		if len(f.Purposes) == 0 || len(f.ConsentAgencies) == 0 {
			return api.WhatIfRequest{}, refuse(http.StatusBadRequest, "Consent is ticked: choose at least one purpose and one agency it was given for.")
		}
		e := api.ConsentEntry{Seq: 1, Kind: "granted", At: now.AddDate(0, 0, -7).UTC().Format(time.RFC3339), By: f.Publisher,
			EventID: "what-if", GivenBy: f.ConsentBy}
		for _, p := range f.Purposes {
			e.Purposes = append(e.Purposes, p)
		}
		for _, a := range f.ConsentAgencies {
			e.Agencies = append(e.Agencies, a)
		}
		req.Consent = &api.Consent{Entries: []api.ConsentEntry{e}}
	}
	return req, nil
}

// in reports whether s is in list (the form's ticked boxes).
func in(list []string, s string) bool { return slices.Contains(list, s) }

func init() { funcs["in"] = in; funcs["sprintf"] = fmt.Sprintf }
