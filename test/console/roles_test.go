package console_test

import (
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"github.com/ecm-broker/ecm-broker/demo"
	"github.com/ecm-broker/ecm-broker/test/testenv"
)

// client is a browser without a browser: a cookie jar that does not follow
// redirects.
type client struct {
	t    *testing.T
	base string
	hc   *http.Client
}

func newClient(t *testing.T, base string) *client {
	jar, _ := cookiejar.New(nil)
	return &client{t: t, base: base, hc: &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}}
}

func (c *client) do(method, path string, form url.Values) (int, string) {
	c.t.Helper()
	var body io.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	}
	req, _ := http.NewRequest(method, c.base+path, body)
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		c.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

var csrfRe = regexp.MustCompile(`name="csrf" value="([^"]+)"`)

func csrfOf(t *testing.T, page string) string {
	t.Helper()
	m := csrfRe.FindStringSubmatch(page)
	if m == nil {
		t.Fatalf("no CSRF token on the page: %s", page)
	}
	return m[1]
}

func (c *client) signIn(name, token string) (int, string) {
	c.t.Helper()
	_, page := c.do("GET", "/console/signin", nil)
	return c.do("POST", "/console/signin", url.Values{"csrf": {csrfOf(c.t, page)}, "operator": {name}, "token": {token}, "next": {"/console/"}})
}

// Who may reach what: a participant's token cannot sign in; a read-only
// operator reads but cannot reach the propose page or give a verdict
// (readable 403s, and no link to them); a form without its CSRF token is
// refused; the console's session gives nothing on the API's own routes (the
// in-process identity cannot come from the wire).
func TestConsoleRolesAndCSRF(t *testing.T) {
	env := testenv.Start(t, "")

	p := newClient(t, env.Base)
	if st, body := p.signIn("leeds/pct", demo.Token("leeds/pct")); st != http.StatusForbidden || !strings.Contains(body, "belongs to an agency") {
		t.Errorf("a participant's token signing in: %d, want 403 saying why", st)
	}
	if st, _ := p.do("GET", "/console/policy", nil); st != http.StatusSeeOther {
		t.Errorf("a participant reaching the policy page: %d, want a redirect to sign in", st)
	}

	v := newClient(t, env.Base)
	if st, _ := v.signIn("viewer", demo.ViewerToken); st != http.StatusSeeOther {
		t.Fatalf("viewer signing in: %d", st)
	}
	st, page := v.do("GET", "/console/policy", nil)
	if st != http.StatusOK || strings.Contains(page, `href="/console/policy/propose"`) {
		t.Errorf("viewer's policy page: %d; a link to propose shown: %v", st, strings.Contains(page, "/console/policy/propose"))
	}
	if st, body := v.do("GET", "/console/policy/propose", nil); st != http.StatusForbidden || !strings.Contains(body, "does not have the policy role") {
		t.Errorf("viewer opening the propose page: %d, want 403 saying which role", st)
	}
	csrf := csrfOf(t, page)
	for _, path := range []string{"/console/policy/proposals/any/approve", "/console/policy/propose"} {
		if st, body := v.do("POST", path, url.Values{"csrf": {csrf}, "reason": {"mine"}}); st != http.StatusForbidden || !strings.Contains(body, "does not have the policy role") {
			t.Errorf("viewer POSTing %s: %d, want 403", path, st)
		}
	}
	if st, _ := v.do("POST", "/console/deadletters/1/resolve", url.Values{"csrf": {csrf}, "note": {"x"}}); st != http.StatusForbidden {
		t.Errorf("viewer resolving a dead letter: %d, want 403", st)
	}

	o := newClient(t, env.Base)
	if st, _ := o.signIn("ops", demo.OperatorToken); st != http.StatusSeeOther {
		t.Fatalf("ops signing in: %d", st)
	}
	for _, form := range []url.Values{{"note": {"no token"}}, {"csrf": {csrf}, "note": {"viewer's token"}}} {
		if st, body := o.do("POST", "/console/deadletters/1/resolve", form); st != http.StatusForbidden || !strings.Contains(body, "did not come from a page of this console") {
			t.Errorf("a form without its session's CSRF token: %d, want 403 saying why", st)
		}
	}
	if st, body := o.do("POST", "/console/signin", url.Values{"operator": {"ops"}, "token": {demo.OperatorToken}}); st != http.StatusForbidden || !strings.Contains(body, "Form refused") {
		t.Errorf("a sign-in form without its CSRF token: %d, want 403", st)
	}
	// The session's cookie on the API's routes: no identity.
	for _, path := range []string{"/v1/audit?child=" + demo.Children["Amy (4)"], "/v1/policy", "/v1/operations"} {
		if st, _ := o.do("GET", path, nil); st != http.StatusUnauthorized {
			t.Errorf("GET %s with only the console's cookie: %d, want 401", path, st)
		}
	}
	// Signed out, the old cookie is worth nothing.
	_, home := o.do("GET", "/console/", nil)
	if st, _ := o.do("POST", "/console/signout", url.Values{"csrf": {csrfOf(t, home)}}); st != http.StatusOK {
		t.Errorf("signing out: %d", st)
	}
	if st, _ := o.do("GET", "/console/operations", nil); st != http.StatusSeeOther {
		t.Errorf("after signing out: %d, want a redirect to sign in", st)
	}
}
