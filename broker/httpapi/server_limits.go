package httpapi

// The HTTP edge: TLS, timeouts and a connection limit (docs/security.md,
// "The HTTP edge"). The broker opens its listeners with Listen and serves
// them with NewHTTPServer.

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"sync"
	"time"

	"go.uber.org/zap"
)

// Limits are the API's timeouts and connection limit; zero fields take the
// defaults (DefaultLimits).
type Limits struct {
	// ReadHeaderTimeout: a request's headers must arrive within it (10 s;
	// at most ReadTimeout).
	ReadHeaderTimeout time.Duration
	// ReadTimeout: a request that has not arrived in full, body included,
	// within it is cut (30 s; a 16 MiB batch needs about 4.5 Mbit/s).
	ReadTimeout time.Duration
	// WriteTimeout: an answer must be written in full within it of the
	// request's arrival (5 min: a subject access export reads a child's
	// ingest partition and the dead letters). A long operation's NDJSON
	// stream (replay, impact, verify: progress.go) is not bound by it: each
	// of its lines must be taken by the client within streamLineTimeout
	// instead, however long the operation runs.
	WriteTimeout time.Duration
	// IdleTimeout: a keep-alive connection with no request is closed after
	// it (60 s).
	IdleTimeout time.Duration
	// MaxConns: the most connections the listener holds at once (1024);
	// more wait in the kernel's accept queue until one closes. The process
	// shares its file descriptors with the embedded NATS server: raise
	// `ulimit -n` above MaxConns plus NATS's connections.
	MaxConns int
	// MaxHeaderBytes: the most a request's headers may hold (256 KiB: a
	// binary-mode event carries its attributes in headers, and an oversized
	// one is answered by the broker, dead-lettered with its reason, rather
	// than cut by the server with no record).
	MaxHeaderBytes int
	// AuthFailures throttles failed authentications (throttle.go).
	AuthFailures Throttle
}

// streamLineTimeout is the most one line of an NDJSON stream may take to be
// written to the client (progress.go).
const streamLineTimeout = time.Minute

// DefaultLimits are the limits a zero Limits takes.
func DefaultLimits() Limits {
	return Limits{ReadHeaderTimeout: 10 * time.Second, ReadTimeout: 30 * time.Second, WriteTimeout: 5 * time.Minute,
		IdleTimeout: 60 * time.Second, MaxConns: 1024, MaxHeaderBytes: 256 << 10,
		AuthFailures: Throttle{}.withDefaults()}
}

// WithDefaults fills in the zero fields.
func (l Limits) WithDefaults() Limits {
	d := DefaultLimits()
	set := func(v *time.Duration, def time.Duration) {
		if *v <= 0 {
			*v = def
		}
	}
	set(&l.ReadHeaderTimeout, d.ReadHeaderTimeout)
	set(&l.ReadTimeout, d.ReadTimeout)
	set(&l.WriteTimeout, d.WriteTimeout)
	set(&l.IdleTimeout, d.IdleTimeout)
	// Headers are part of the request: never longer than the whole.
	l.ReadHeaderTimeout = min(l.ReadHeaderTimeout, l.ReadTimeout)
	if l.MaxConns <= 0 {
		l.MaxConns = d.MaxConns
	}
	if l.MaxHeaderBytes <= 0 {
		l.MaxHeaderBytes = d.MaxHeaderBytes
	}
	l.AuthFailures = l.AuthFailures.withDefaults()
	return l
}

// TLSFiles make the API HTTPS only.
type TLSFiles struct {
	// CertFile and KeyFile (PEM) are read again when either changes, so a
	// renewed certificate is served without a restart.
	CertFile, KeyFile string
	// ClientCAFile (PEM), when set, verifies client certificates against
	// these CAs: a client that presents one it did not sign is refused at
	// the handshake. The bearer token is still required: the certificate
	// is a second factor for the agencies that use mutual TLS.
	ClientCAFile string
	// RequireClientCert refuses clients without a certificate.
	RequireClientCert bool
}

// Enabled reports whether TLS is configured.
func (t TLSFiles) Enabled() bool { return t.CertFile != "" || t.KeyFile != "" }

// ErrPlainHTTP is returned for plain HTTP on an address other hosts reach.
var ErrPlainHTTP = errors.New("plain HTTP on an address other hosts can reach would send tokens and children's records in clear")

// Listen opens an API listener on addr (flag names the address's flag in
// errors): TLS when t is enabled, plain HTTP only on a loopback address
// unless allowPlain (the broker behind a proxy that terminates TLS), and at
// most maxConns connections at once.
func Listen(flag, addr string, t TLSFiles, allowPlain bool, maxConns int, log *zap.Logger) (net.Listener, error) {
	var cfg *tls.Config
	switch {
	case t.Enabled():
		var err error
		if cfg, err = serverTLS(t, log); err != nil {
			return nil, err
		}
	case t.ClientCAFile != "" || t.RequireClientCert:
		return nil, fmt.Errorf("--http-client-ca needs --http-tls-cert and --http-tls-key")
	case !allowPlain && !IsLoopback(addr):
		return nil, fmt.Errorf("%s %s: %w; give --http-tls-cert and --http-tls-key, listen on 127.0.0.1, or (behind a proxy that terminates TLS) --http-insecure-allow-plain",
			flag, addr, ErrPlainHTTP)
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("%s %s: %w", flag, addr, err)
	}
	if maxConns > 0 {
		ln = &limitListener{Listener: ln, sem: make(chan struct{}, maxConns), done: make(chan struct{})}
	}
	if cfg != nil {
		ln = tls.NewListener(ln, cfg)
	}
	return ln, nil
}

// IsLoopback reports whether addr (host:port) listens on loopback only.
// An empty host listens on every interface.
func IsLoopback(addr string) bool {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return false
	}
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// NewHTTPServer serves h with l's timeouts.
func NewHTTPServer(h http.Handler, l Limits, log *zap.Logger) *http.Server {
	l = l.WithDefaults()
	return &http.Server{Handler: h, ReadHeaderTimeout: l.ReadHeaderTimeout, ReadTimeout: l.ReadTimeout,
		WriteTimeout: l.WriteTimeout, IdleTimeout: l.IdleTimeout, MaxHeaderBytes: l.MaxHeaderBytes,
		ErrorLog: zap.NewStdLog(log.Named("http"))}
}

// serverTLS is the listener's TLS: TLS 1.2 or later, HTTP/1.1 (so that the
// timeouts above mean what they say), the certificate read again when its
// files change, client certificates verified when a CA is given.
func serverTLS(t TLSFiles, log *zap.Logger) (*tls.Config, error) {
	if t.CertFile == "" || t.KeyFile == "" {
		return nil, fmt.Errorf("--http-tls-cert and --http-tls-key go together")
	}
	cr := &certReloader{certFile: t.CertFile, keyFile: t.KeyFile, log: log}
	if err := cr.load(); err != nil {
		return nil, err
	}
	cfg := &tls.Config{MinVersion: tls.VersionTLS12, GetCertificate: cr.get, NextProtos: []string{"http/1.1"}}
	if t.ClientCAFile != "" {
		pem, err := os.ReadFile(t.ClientCAFile)
		if err != nil {
			return nil, fmt.Errorf("--http-client-ca: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("--http-client-ca %s: no PEM certificate in it", t.ClientCAFile)
		}
		cfg.ClientCAs, cfg.ClientAuth = pool, tls.VerifyClientCertIfGiven
		if t.RequireClientCert {
			cfg.ClientAuth = tls.RequireAndVerifyClientCert
		}
	} else if t.RequireClientCert {
		return nil, fmt.Errorf("--http-client-cert-required needs --http-client-ca")
	}
	return cfg, nil
}

// certReloader serves the certificate of two files and reads them again
// when either's modification time changes (checked at a handshake at most
// once a second). A pair that does not load (a renewal half written) leaves
// the previous one served and is tried again.
type certReloader struct {
	certFile, keyFile string
	log               *zap.Logger

	mu              sync.Mutex
	cert            *tls.Certificate
	certMod, keyMod time.Time
	checked         time.Time
	lastErr         string
}

func (c *certReloader) load() error {
	cm, km, err := c.modTimes()
	if err != nil {
		return err
	}
	pair, err := tls.LoadX509KeyPair(c.certFile, c.keyFile)
	if err != nil {
		return fmt.Errorf("--http-tls-cert/--http-tls-key: %w", err)
	}
	c.cert, c.certMod, c.keyMod = &pair, cm, km
	return nil
}

func (c *certReloader) modTimes() (time.Time, time.Time, error) {
	cs, err := os.Stat(c.certFile)
	if err != nil {
		return time.Time{}, time.Time{}, fmt.Errorf("--http-tls-cert: %w", err)
	}
	ks, err := os.Stat(c.keyFile)
	if err != nil {
		return time.Time{}, time.Time{}, fmt.Errorf("--http-tls-key: %w", err)
	}
	return cs.ModTime(), ks.ModTime(), nil
}

func (c *certReloader) get(*tls.ClientHelloInfo) (*tls.Certificate, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if time.Since(c.checked) < time.Second {
		return c.cert, nil
	}
	c.checked = time.Now()
	cm, km, err := c.modTimes()
	if err == nil && cm.Equal(c.certMod) && km.Equal(c.keyMod) {
		return c.cert, nil
	}
	if err == nil {
		err = c.load()
	}
	switch {
	case err != nil && err.Error() != c.lastErr:
		c.lastErr = err.Error()
		c.log.Warn("TLS certificate not reloaded; the previous one is served", zap.Error(err))
	case err == nil:
		c.lastErr = ""
		c.log.Info("TLS certificate reloaded", zap.String("cert", c.certFile))
	}
	return c.cert, nil
}

// limitListener holds at most cap(sem) connections: Accept waits for one to
// close (netutil.LimitListener's idea, without the dependency).
type limitListener struct {
	net.Listener
	sem       chan struct{}
	done      chan struct{}
	closeOnce sync.Once
}

func (l *limitListener) Accept() (net.Conn, error) {
	select {
	case l.sem <- struct{}{}:
	case <-l.done:
		return nil, net.ErrClosed
	}
	c, err := l.Listener.Accept()
	if err != nil {
		<-l.sem
		return nil, err
	}
	return &limitConn{Conn: c, release: func() { <-l.sem }}, nil
}

// Close stops an Accept waiting for a free slot, too.
func (l *limitListener) Close() error {
	l.closeOnce.Do(func() { close(l.done) })
	return l.Listener.Close()
}

type limitConn struct {
	net.Conn
	once    sync.Once
	release func()
}

func (c *limitConn) Close() error {
	err := c.Conn.Close()
	c.once.Do(c.release)
	return err
}
