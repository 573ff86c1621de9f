package console

import (
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"net/http"
	"sync"
	"time"
)

// A session lasts at most maxAge from sign-in, and ends after idle without
// a request.
const (
	maxAge      = 8 * time.Hour
	idle        = 30 * time.Minute
	cookieName  = "ecm_console"
	maxSessions = 10000 // signed-in and signing-in together: a flood of sign-in pages cannot grow the store without end
)

// session is one browser's: before sign-in it only holds the CSRF token of
// the sign-in form; after, the operator's name. The session id is replaced
// at sign-in, so an id planted before cannot be used after.
type session struct {
	id       string
	csrf     string
	operator string // empty until signed in
	created  time.Time
	seen     time.Time
}

// sessions is the server-side store; the cookie holds only the random id.
type sessions struct {
	mu  sync.Mutex
	now func() time.Time
	m   map[string]*session
}

func newSessions() *sessions { return &sessions{now: time.Now, m: map[string]*session{}} }

func randomID() string {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		panic(err) // crypto/rand does not fail on a supported platform
	}
	return base64.RawURLEncoding.EncodeToString(b)
}

func (s *sessions) expired(ss *session, now time.Time) bool {
	return now.Sub(ss.created) > maxAge || now.Sub(ss.seen) > idle
}

// get finds the session of r's cookie, touching it; nil when there is none
// or it has expired.
func (s *sessions) get(r *http.Request) *session {
	c, err := r.Cookie(cookieName)
	if err != nil {
		return nil
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	ss, ok := s.m[c.Value]
	if !ok {
		return nil
	}
	now := s.now()
	if s.expired(ss, now) {
		delete(s.m, ss.id)
		return nil
	}
	ss.seen = now
	cp := *ss
	return &cp
}

// start makes a new session for operator ("" before sign-in) and sets its
// cookie.
func (s *sessions) start(w http.ResponseWriter, r *http.Request, operator string) *session {
	now := s.now()
	ss := &session{id: randomID(), csrf: randomID(), operator: operator, created: now, seen: now}
	s.mu.Lock()
	if len(s.m) >= maxSessions {
		for id, o := range s.m {
			if s.expired(o, now) {
				delete(s.m, id)
			}
		}
		if len(s.m) >= maxSessions { // still full: drop signing-in sessions first
			for id, o := range s.m {
				if o.operator == "" {
					delete(s.m, id)
				}
			}
		}
	}
	s.m[ss.id] = ss
	s.mu.Unlock()
	http.SetCookie(w, &http.Cookie{Name: cookieName, Value: ss.id, Path: "/console", HttpOnly: true, Secure: r.TLS != nil,
		SameSite: http.SameSiteStrictMode, MaxAge: int(maxAge / time.Second)})
	cp := *ss
	return &cp
}

// end forgets a session and clears its cookie.
func (s *sessions) end(w http.ResponseWriter, r *http.Request, ss *session) {
	if ss != nil {
		s.mu.Lock()
		delete(s.m, ss.id)
		s.mu.Unlock()
	}
	http.SetCookie(w, &http.Cookie{Name: cookieName, Value: "", Path: "/console", HttpOnly: true, Secure: r.TLS != nil,
		SameSite: http.SameSiteStrictMode, MaxAge: -1})
}

// csrfOK reports whether a POSTed form carries the session's CSRF token.
func csrfOK(r *http.Request, ss *session) bool {
	got := r.PostFormValue("csrf")
	return ss != nil && got != "" && subtle.ConstantTimeCompare([]byte(got), []byte(ss.csrf)) == 1
}
