package console

import (
	"bytes"
	"embed"
	"encoding/json"
	"errors"
	"fmt"
	"html/template"
	"io/fs"
	"net/http"
	"net/url"
	"slices"
	"strings"

	"github.com/ecm-broker/ecm-broker/api"
	"github.com/ecm-broker/ecm-broker/broker/config"
	"github.com/ecm-broker/ecm-broker/broker/httpapi"
	"go.uber.org/zap"
)

//go:embed templates/*.html
var templateFS embed.FS

//go:embed static
var staticFS embed.FS

// API is what the console uses of the broker's HTTP API (httpapi.Server):
// its handler, called in-process, and the sign-in check.
type API interface {
	// Handler serves the JSON API; the console calls it with the operator
	// in the request's context (httpapi.AsOperator).
	Handler() http.Handler
	// SignIn checks an operator's name and token, throttled per client
	// address; its errors are said so that the person signing in can act.
	SignIn(r *http.Request, name, token string) (config.Operator, error)
	// Operator is the configured operator of that name, with its roles.
	Operator(name string) (config.Operator, bool)
}

// Deps are what the console is built from.
type Deps struct {
	API    API
	Config *config.Config // the participants and areas offered in the what-if form
	Log    *zap.Logger
}

// Console serves the pages under /console.
type Console struct {
	api      http.Handler
	signIn   API
	cfg      *config.Config
	log      *zap.Logger
	sessions *sessions
	pages    map[string]*template.Template
}

// maxForm bounds a POSTed form (a proposal's files, a corrected event).
const maxForm = 4 << 20

// New builds the console.
func New(d Deps) (*Console, error) {
	if d.Log == nil {
		d.Log = zap.NewNop()
	}
	c := &Console{api: d.API.Handler(), signIn: d.API, cfg: d.Config, log: d.Log, sessions: newSessions(), pages: map[string]*template.Template{}}
	names, err := fs.Glob(templateFS, "templates/*.html")
	if err != nil {
		return nil, err
	}
	for _, n := range names {
		base := strings.TrimSuffix(strings.TrimPrefix(n, "templates/"), ".html")
		if base == "layout" || base == "partials" {
			continue
		}
		t, err := template.New("layout.html").Funcs(funcs).ParseFS(templateFS, "templates/layout.html", "templates/partials.html", n)
		if err != nil {
			return nil, fmt.Errorf("console template %s: %w", n, err)
		}
		c.pages[base] = t
	}
	return c, nil
}

// Handler serves /console and everything under it.
func (c *Console) Handler() http.Handler {
	mux := http.NewServeMux()
	static, _ := fs.Sub(staticFS, "static")
	mux.Handle("GET /console/static/", http.StripPrefix("/console/static/", http.FileServerFS(static)))
	mux.HandleFunc("GET /console", func(w http.ResponseWriter, r *http.Request) { http.Redirect(w, r, "/console/", http.StatusSeeOther) })
	mux.HandleFunc("GET /console/{$}", c.page(config.RoleRead, c.home))
	mux.HandleFunc("GET /console/signin", c.signInPage)
	mux.HandleFunc("POST /console/signin", c.signInPost)
	mux.HandleFunc("POST /console/signout", c.signOutPost)
	mux.HandleFunc("GET /console/matrix", c.page(config.RoleRead, c.matrix))
	mux.HandleFunc("GET /console/child", c.page(config.RoleRead, c.child))
	mux.HandleFunc("GET /console/child/review", c.page(config.RoleRead, c.reviewForm))
	mux.HandleFunc("POST /console/child/review", c.post(config.RoleRead, c.reviewPost))
	mux.HandleFunc("GET /console/whatif", c.page(config.RoleRead, c.whatIf))
	mux.HandleFunc("POST /console/whatif", c.post(config.RoleRead, c.whatIf))
	mux.HandleFunc("GET /console/policy", c.page(config.RoleRead, c.policy))
	mux.HandleFunc("GET /console/policy/revisions/{rev}", c.page(config.RoleRead, c.revision))
	mux.HandleFunc("GET /console/policy/propose", c.page(config.RolePolicy, c.proposeForm))
	mux.HandleFunc("POST /console/policy/propose", c.post(config.RolePolicy, c.proposePost))
	mux.HandleFunc("GET /console/policy/proposals/{id}", c.page(config.RoleRead, c.proposal))
	mux.HandleFunc("POST /console/policy/proposals/{id}/{verdict}", c.post(config.RolePolicy, c.verdictPost))
	mux.HandleFunc("GET /console/deadletters", c.page(config.RoleRead, c.deadLetters))
	mux.HandleFunc("GET /console/deadletters/{seq}", c.page(config.RoleRead, c.deadLetter))
	mux.HandleFunc("POST /console/deadletters/{seq}/{action}", c.post(config.RoleReplay, c.triagePost))
	mux.HandleFunc("GET /console/operations", c.page(config.RoleRead, c.operations))
	mux.HandleFunc("/console/", func(w http.ResponseWriter, r *http.Request) {
		c.render(w, r, http.StatusNotFound, "error", view{Title: "Page not found", Data: errorView{
			Message: "There is no page at this address. Use the links at the top of the page."}})
	})
	return headers(mux)
}

// headers are on every answer: nothing is cached (pages hold children's
// data), nothing is framed, and scripts and styles come from the console
// only.
func headers(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hd := w.Header()
		hd.Set("Content-Security-Policy", "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; form-action 'self'; frame-ancestors 'none'; base-uri 'none'")
		hd.Set("X-Content-Type-Options", "nosniff")
		hd.Set("Referrer-Policy", "no-referrer")
		hd.Set("X-Frame-Options", "DENY")
		if !strings.HasPrefix(r.URL.Path, "/console/static/") {
			hd.Set("Cache-Control", "no-store")
		}
		h.ServeHTTP(w, r)
	})
}

// user is the signed-in operator of a request.
type user struct {
	Name  string
	Roles []config.Role
	sess  *session
}

// Has reports whether the operator has role r (templates hide links with it).
func (u *user) Has(r string) bool {
	return u != nil && (config.Role(r) == config.RoleRead || slices.Contains(u.Roles, config.Role(r)))
}

// view is what every page template gets.
type view struct {
	Title string
	User  *user
	CSRF  string
	Nav   string // the section the page belongs to, for aria-current
	Flash string
	Data  any
}

// handler is a page's handler: it returns the template and the view, or an
// error (a *pageError says what the person sees).
type handler func(r *http.Request, u *user) (string, view, error)

// pageError is a refusal or failure shown as a page: its status and a
// message a person can act on (the API's own message when it refused).
type pageError struct {
	status int
	msg    string
}

func (e *pageError) Error() string { return e.msg }

func refuse(status int, format string, args ...any) error {
	return &pageError{status: status, msg: fmt.Sprintf(format, args...)}
}

// signedIn finds the signed-in operator of r, or nil.
func (c *Console) signedIn(r *http.Request) *user {
	ss := c.sessions.get(r)
	if ss == nil || ss.operator == "" {
		return nil
	}
	o, ok := c.signIn.Operator(ss.operator)
	if !ok {
		return nil
	}
	return &user{Name: o.Name, Roles: o.Roles, sess: ss}
}

// page serves a GET page to signed-in operators with role.
func (c *Console) page(role config.Role, h handler) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		u := c.signedIn(r)
		if u == nil {
			http.Redirect(w, r, "/console/signin?next="+url.QueryEscape(r.URL.RequestURI()), http.StatusSeeOther)
			return
		}
		if !u.Has(string(role)) {
			c.forbidden(w, r, u, role)
			return
		}
		c.run(w, r, u, h)
	}
}

// post serves a form POST to signed-in operators with role, once its CSRF
// token is checked.
func (c *Console) post(role config.Role, h handler) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		r.Body = http.MaxBytesReader(w, r.Body, maxForm)
		u := c.signedIn(r)
		if u == nil {
			c.render(w, r, http.StatusForbidden, "error", view{Title: "Signed out", Data: errorView{
				Message: "Your session has ended, so this form was not sent. Sign in again and repeat what you were doing.", SignIn: true}})
			return
		}
		if !csrfOK(r, u.sess) {
			c.log.Warn("console form without a valid CSRF token refused", zap.String("operator", u.Name), zap.String("path", r.URL.Path))
			c.render(w, r, http.StatusForbidden, "error", view{Title: "Form refused", User: u, CSRF: u.sess.csrf, Data: errorView{
				Message: "This form was refused because it did not come from a page of this console (its security token was missing or out of date). Nothing was changed. Go back, reload the page and send the form again."}})
			return
		}
		if !u.Has(string(role)) {
			c.forbidden(w, r, u, role)
			return
		}
		c.run(w, r, u, h)
	}
}

func (c *Console) forbidden(w http.ResponseWriter, r *http.Request, u *user, role config.Role) {
	c.render(w, r, http.StatusForbidden, "error", view{Title: "Not allowed", User: u, CSRF: u.sess.csrf, Data: errorView{
		Message: fmt.Sprintf("Operator %s does not have the %s role this page needs. Roles are given in the broker's configuration; ask whoever runs it.", u.Name, role)}})
}

func (c *Console) run(w http.ResponseWriter, r *http.Request, u *user, h handler) {
	tmpl, v, err := h(r, u)
	v.User, v.CSRF = u, u.sess.csrf
	if err != nil {
		var pe *pageError
		if !errors.As(err, &pe) {
			c.log.Error("console page failed", zap.String("path", r.URL.Path), zap.Error(err))
			pe = &pageError{status: http.StatusInternalServerError, msg: "The console failed on this page; it is logged."}
		}
		title := "Not allowed"
		switch {
		case pe.status == http.StatusNotFound:
			title = "Not found"
		case pe.status == http.StatusBadRequest || pe.status == http.StatusUnprocessableEntity:
			title = "Please check what you entered"
		case pe.status >= 500:
			title = "Something went wrong"
		case pe.status == http.StatusConflict:
			title = "Not done"
		}
		c.render(w, r, pe.status, "error", view{Title: title, User: u, CSRF: u.sess.csrf, Nav: v.Nav, Data: errorView{Message: pe.msg}})
		return
	}
	if strings.HasPrefix(tmpl, "redirect:") {
		http.Redirect(w, r, strings.TrimPrefix(tmpl, "redirect:"), http.StatusSeeOther)
		return
	}
	c.render(w, r, http.StatusOK, tmpl, v)
}

type errorView struct {
	Message string
	SignIn  bool
}

func (c *Console) render(w http.ResponseWriter, r *http.Request, status int, name string, v view) {
	t, ok := c.pages[name]
	if !ok {
		c.log.Error("console template missing", zap.String("template", name))
		http.Error(w, "console template missing", http.StatusInternalServerError)
		return
	}
	var buf bytes.Buffer
	if err := t.Execute(&buf, v); err != nil {
		c.log.Error("console template failed", zap.String("template", name), zap.Error(err))
		http.Error(w, "the console failed to show this page; it is logged", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(status)
	_, _ = buf.WriteTo(w)
}

// recorder keeps what the API's handler answered an in-process call.
type recorder struct {
	header http.Header
	code   int
	body   bytes.Buffer
}

func (rec *recorder) Header() http.Header { return rec.header }
func (rec *recorder) Write(b []byte) (int, error) {
	if rec.code == 0 {
		rec.code = http.StatusOK
	}
	return rec.body.Write(b)
}
func (rec *recorder) WriteHeader(code int) {
	if rec.code == 0 {
		rec.code = code
	}
}

// call sends one request to the API's handler in-process as the operator
// and decodes a successful answer into out. An answer that is not a
// success is a *pageError with the API's own message.
func (c *Console) call(r *http.Request, u *user, method, path string, body, out any) error {
	var rd *bytes.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return err
		}
		rd = bytes.NewReader(b)
	} else {
		rd = bytes.NewReader(nil)
	}
	ctx := httpapi.AsOperator(r.Context(), u.Name)
	req, err := http.NewRequestWithContext(ctx, method, path, rd)
	if err != nil {
		return err
	}
	req.RemoteAddr = r.RemoteAddr // the API throttles and logs by the browser's address
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	rec := &recorder{header: http.Header{}}
	c.api.ServeHTTP(rec, req)
	if rec.code == 0 {
		rec.code = http.StatusOK
	}
	if rec.code < 200 || rec.code > 299 {
		var e api.Error
		msg := strings.TrimSpace(rec.body.String())
		if json.Unmarshal(rec.body.Bytes(), &e) == nil && e.Error != "" {
			msg = e.Error
		}
		if rec.code == http.StatusNotFound && msg == "404 page not found" {
			msg = "the broker has no endpoint " + method + " " + strings.SplitN(path, "?", 2)[0] + " (this broker is older than its console)"
		}
		return &pageError{status: rec.code, msg: upperFirst(msg) + "."}
	}
	if out == nil {
		return nil
	}
	if err := json.Unmarshal(rec.body.Bytes(), out); err != nil {
		return fmt.Errorf("reading %s %s: %w", method, path, err)
	}
	return nil
}

func upperFirst(s string) string {
	s = strings.TrimSuffix(s, ".")
	if s == "" {
		return s
	}
	return strings.ToUpper(s[:1]) + s[1:]
}
