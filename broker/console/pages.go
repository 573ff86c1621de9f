package console

import (
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"sort"
	"strconv"
	"strings"

	"github.com/ecm-broker/ecm-broker/api"
	"github.com/ecm-broker/ecm-broker/uin"
)

func (c *Console) home(r *http.Request, u *user) (string, view, error) {
	return "home", view{Title: "IG console", Nav: "home"}, nil
}

// --- the sharing matrix ---

type matrixView struct {
	Live                  api.PolicyLive
	Rows                  []api.MatrixRow
	EventTypes, Agencies  []string
	Event, Agency, Shared string
	Query                 string
	Total                 int
	Filtered              bool
}

func (c *Console) matrix(r *http.Request, u *user) (string, view, error) {
	v := view{Title: "Sharing matrix", Nav: "matrix"}
	var live api.PolicyLive
	if err := c.call(r, u, "GET", "/v1/policy", nil, &live); err != nil {
		return "", v, err
	}
	q := r.URL.Query()
	mv := matrixView{Live: live, Event: q.Get("event"), Agency: q.Get("agency"), Shared: q.Get("shared"),
		Query: strings.TrimSpace(q.Get("q")), Total: len(live.Matrix)}
	seenE, seenA := map[string]bool{}, map[string]bool{}
	needle := strings.ToLower(mv.Query)
	for _, row := range live.Matrix {
		if !seenE[row.EventType] {
			seenE[row.EventType] = true
			mv.EventTypes = append(mv.EventTypes, row.EventType)
		}
		if !seenA[row.Agency] {
			seenA[row.Agency] = true
			mv.Agencies = append(mv.Agencies, row.Agency)
		}
		switch {
		case mv.Event != "" && row.EventType != mv.Event,
			mv.Agency != "" && row.Agency != mv.Agency,
			mv.Shared == "yes" && !row.Shared, mv.Shared == "no" && row.Shared:
			continue
		}
		if needle != "" && !strings.Contains(strings.ToLower(strings.Join([]string{row.EventType, row.Agency, row.AgencyName,
			row.Relationship, row.Basis, row.Reason, row.Source, strings.Join(row.Removed, " ")}, " ")), needle) {
			continue
		}
		mv.Rows = append(mv.Rows, row)
	}
	sort.Strings(mv.EventTypes)
	sort.Strings(mv.Agencies)
	mv.Filtered = len(mv.Rows) != mv.Total
	v.Data = mv
	return "matrix", v, nil
}

// --- a child ---

type childView struct {
	UIN, Error string
	Report     *api.SubjectAccess
	Timeline   []entry
	Actions    []api.AuditRecord
}

// checkUIN says what is wrong with a UIN typed into a form.
func checkUIN(s string) (string, error) {
	s = strings.ReplaceAll(strings.TrimSpace(s), " ", "")
	if err := uin.Check(s); err != nil {
		return s, refuse(http.StatusBadRequest, "The UIN %s: %v. A UIN is ten digits, the last a check digit.", mask(s), err)
	}
	return s, nil
}

func (c *Console) child(r *http.Request, u *user) (string, view, error) {
	v := view{Title: "Find a child", Nav: "child"}
	cv := childView{UIN: strings.TrimSpace(r.URL.Query().Get("uin"))}
	v.Data = &cv
	if cv.UIN == "" {
		return "child", v, nil
	}
	s, err := checkUIN(cv.UIN)
	if err != nil {
		cv.Error = err.Error()
		return "child", v, nil
	}
	cv.UIN = s
	var sa api.SubjectAccess
	if err := c.call(r, u, "GET", "/v1/sar?child="+url.QueryEscape(s), nil, &sa); err != nil {
		return "", v, err
	}
	cv.Report = &sa
	cv.Timeline, cv.Actions = timeline(&sa)
	v.Title = "Child record"
	return "child", v, nil
}

// --- dead letters ---

type deadLettersView struct {
	Letters []letter
	Open    int
	Next    uint64
	More    bool
}

// letter is a dead letter as listed: the child masked, what it was.
type letter struct {
	api.DeadLetter
	Child, Type, EventID string
	State                string
}

func describe(dl api.DeadLetter) letter {
	l := letter{DeadLetter: dl}
	var head struct {
		Subject string `json:"subject"`
		Type    string `json:"type"`
		ID      string `json:"id"`
	}
	if jsonHead(dl.Body, &head) {
		if head.Subject != "" {
			l.Child = mask(head.Subject)
		}
		l.Type, l.EventID = shortType(head.Type), head.ID
	}
	switch {
	case dl.Triage != nil && dl.Triage.Action == "resubmitted":
		l.State = "Re-submitted"
	case dl.Triage != nil:
		l.State = "Dealt with"
	case dl.Resolved != nil:
		l.State = "Delivered later by " + dl.Resolved.Operation
	default:
		l.State = "Open"
	}
	return l
}

func (c *Console) deadLetters(r *http.Request, u *user) (string, view, error) {
	v := view{Title: "Dead letters", Nav: "deadletters"}
	after := r.URL.Query().Get("after")
	if _, err := strconv.ParseUint(after, 10, 64); err != nil {
		after = "0"
	}
	var page api.DeadLetterPage
	if err := c.call(r, u, "GET", "/v1/deadletters?limit=200&after="+after, nil, &page); err != nil {
		return "", v, err
	}
	dv := deadLettersView{Next: page.Next, More: len(page.DeadLetters) == 200}
	for _, dl := range page.DeadLetters {
		l := describe(dl)
		if l.State == "Open" {
			dv.Open++
		}
		dv.Letters = append(dv.Letters, l)
	}
	slices.Reverse(dv.Letters) // newest first
	v.Data = dv
	return "deadletters", v, nil
}

type deadLetterView struct {
	Letter   letter
	Body     string
	Done     *api.DeadLetterTriage
	Resubmit string
}

func (c *Console) readDeadLetter(r *http.Request, u *user) (api.DeadLetter, error) {
	seq, err := strconv.ParseUint(r.PathValue("seq"), 10, 64)
	if err != nil || seq == 0 {
		return api.DeadLetter{}, refuse(http.StatusNotFound, "There is no dead letter %q: dead letters are numbered from 1.", r.PathValue("seq"))
	}
	var page api.DeadLetterPage
	if err := c.call(r, u, "GET", fmt.Sprintf("/v1/deadletters?limit=1&after=%d", seq-1), nil, &page); err != nil {
		return api.DeadLetter{}, err
	}
	if len(page.DeadLetters) == 0 || page.DeadLetters[0].Seq != seq {
		return api.DeadLetter{}, refuse(http.StatusNotFound, "There is no dead letter %d (it may have expired).", seq)
	}
	return page.DeadLetters[0], nil
}

func (c *Console) deadLetter(r *http.Request, u *user) (string, view, error) {
	v := view{Title: "Dead letter", Nav: "deadletters"}
	dl, err := c.readDeadLetter(r, u)
	if err != nil {
		return "", v, err
	}
	dv := deadLetterView{Letter: describe(dl)}
	dv.Body = dl.BodyText
	if len(dl.Body) > 0 {
		dv.Body = pretty(dl.Body)
	}
	dv.Resubmit = dv.Body
	v.Title = fmt.Sprintf("Dead letter %d", dl.Seq)
	v.Data = dv
	return "deadletter", v, nil
}

// triagePost resolves a dead letter with a note, or re-submits a corrected
// body on the publisher's behalf.
func (c *Console) triagePost(r *http.Request, u *user) (string, view, error) {
	v := view{Title: "Dead letter", Nav: "deadletters"}
	seq, err := strconv.ParseUint(r.PathValue("seq"), 10, 64)
	if err != nil {
		return "", v, refuse(http.StatusNotFound, "There is no dead letter %q.", r.PathValue("seq"))
	}
	note := strings.TrimSpace(r.PostFormValue("note"))
	var out api.DeadLetterTriage
	switch r.PathValue("action") {
	case "resolve":
		err = c.call(r, u, "POST", fmt.Sprintf("/v1/deadletters/%d/resolve", seq), api.DeadLetterResolve{Note: note}, &out)
	case "resubmit":
		body := strings.TrimSpace(r.PostFormValue("event"))
		if !jsonValid(body) {
			return "", v, refuse(http.StatusBadRequest, "The corrected event is not valid JSON: it must be one structured CloudEvent, as the agency would send it.")
		}
		err = c.call(r, u, "POST", fmt.Sprintf("/v1/deadletters/%d/resubmit", seq), api.DeadLetterResubmit{Event: []byte(body), Note: note}, &out)
	default:
		return "", v, refuse(http.StatusNotFound, "A dead letter can be resolved or re-submitted, nothing else.")
	}
	if err != nil {
		return "", v, err
	}
	return fmt.Sprintf("redirect:/console/deadletters/%d?done=%s", seq, out.Action), v, nil
}

// --- operations ---

func (c *Console) operations(r *http.Request, u *user) (string, view, error) {
	v := view{Title: "Operations", Nav: "operations"}
	var ops api.Operations
	if err := c.call(r, u, "GET", "/v1/operations", nil, &ops); err != nil {
		return "", v, err
	}
	v.Data = ops
	return "operations", v, nil
}
