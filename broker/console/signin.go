package console

import (
	"errors"
	"net/http"
	"strings"

	"github.com/ecm-broker/ecm-broker/broker/httpapi"
)

type signInView struct {
	Next  string
	Name  string
	Error string
}

// safeNext keeps a return address inside the console.
func safeNext(next string) string {
	if !strings.HasPrefix(next, "/console/") || strings.HasPrefix(next, "//") || strings.ContainsAny(next, "\\\r\n") {
		return "/console/"
	}
	return next
}

// signInPage shows the sign-in form, with a signing-in session that holds
// the form's CSRF token.
func (c *Console) signInPage(w http.ResponseWriter, r *http.Request) {
	if u := c.signedIn(r); u != nil {
		http.Redirect(w, r, "/console/", http.StatusSeeOther)
		return
	}
	ss := c.sessions.get(r)
	if ss == nil {
		ss = c.sessions.start(w, r, "")
	}
	c.render(w, r, http.StatusOK, "signin", view{Title: "Sign in", CSRF: ss.csrf, Data: signInView{Next: safeNext(r.URL.Query().Get("next"))}})
}

// signInPost checks the name and token with the API's registry and
// throttle; on success the session is replaced by a new signed-in one.
func (c *Console) signInPost(w http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(w, r.Body, 64<<10)
	ss := c.sessions.get(r)
	name, token := strings.TrimSpace(r.PostFormValue("operator")), strings.TrimSpace(r.PostFormValue("token"))
	next := safeNext(r.PostFormValue("next"))
	if !csrfOK(r, ss) {
		c.render(w, r, http.StatusForbidden, "error", view{Title: "Form refused", Data: errorView{SignIn: true,
			Message: "The sign-in form was refused because it did not come from this console's sign-in page, or that page is too old. Nothing was checked. Open the sign-in page again."}})
		return
	}
	o, err := c.signIn.SignIn(r, name, token)
	if err != nil {
		status := http.StatusUnauthorized
		msg := "The operator name and token do not match an operator of the broker's configuration. Check both and try again."
		var te *httpapi.ThrottledError
		switch {
		case errors.As(err, &te):
			status, msg = http.StatusTooManyRequests, "Too many failed sign-ins from this computer: "+err.Error()+"."
		case errors.Is(err, httpapi.ErrParticipantSignIn):
			status, msg = http.StatusForbidden, "This token belongs to an agency, not to an operator: only the broker's operators sign in to the console."
		}
		c.render(w, r, status, "signin", view{Title: "Sign in", CSRF: ss.csrf, Data: signInView{Next: next, Name: name, Error: msg}})
		return
	}
	c.sessions.end(w, r, ss)
	c.sessions.start(w, r, o.Name)
	http.Redirect(w, r, next, http.StatusSeeOther)
}

// signOutPost ends the session (its CSRF token checked: a page elsewhere
// cannot sign an operator out).
func (c *Console) signOutPost(w http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(w, r.Body, 64<<10)
	ss := c.sessions.get(r)
	if ss == nil || ss.operator == "" {
		http.Redirect(w, r, "/console/signin", http.StatusSeeOther)
		return
	}
	if !csrfOK(r, ss) {
		c.render(w, r, http.StatusForbidden, "error", view{Title: "Form refused", Data: errorView{
			Message: "Signing out was refused because the form did not come from a page of this console. Use the Sign out button at the top of a console page."}})
		return
	}
	c.sessions.end(w, r, ss)
	c.render(w, r, http.StatusOK, "signedout", view{Title: "Signed out"})
}
