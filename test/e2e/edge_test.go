package e2e

// The HTTP edge (broker/httpapi/server_limits.go, docs/security.md): HTTPS
// with a certificate read again when it changes, client certificates, plain
// HTTP refused beyond loopback, timeouts and a connection limit, against the
// real broker.

import (
	"bufio"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"io"
	"math/big"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ecm-broker/ecm-broker/broker"
	"github.com/ecm-broker/ecm-broker/broker/httpapi"
	"github.com/ecm-broker/ecm-broker/broker/natsauth"
	"github.com/ecm-broker/ecm-broker/demo"
	"github.com/ecm-broker/ecm-broker/policies"
	"github.com/ecm-broker/ecm-broker/test/testenv"
	"go.uber.org/zap"
)

// issueCert writes name.pem and name-key.pem: a certificate for 127.0.0.1
// and localhost signed by c, for a server or a client, with serial.
func issueCert(t *testing.T, c *ca, dir, name string, serial int64, usage x509.ExtKeyUsage) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(serial), Subject: pkix.Name{CommonName: name},
		DNSNames: []string{"localhost"}, IPAddresses: []net.IP{net.ParseIP("127.0.0.1")},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{usage}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, c.cert, &key.PublicKey, c.key)
	if err != nil {
		t.Fatal(err)
	}
	kder, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	// Written beside and renamed, as a renewal would be.
	writePEM(t, filepath.Join(dir, "."+name+".pem"), "CERTIFICATE", der)
	writePEM(t, filepath.Join(dir, "."+name+"-key.pem"), "EC PRIVATE KEY", kder)
	for _, f := range []string{name + ".pem", name + "-key.pem"} {
		if err := os.Rename(filepath.Join(dir, "."+f), filepath.Join(dir, f)); err != nil {
			t.Fatal(err)
		}
	}
}

func tlsClient(t *testing.T, caFile string, certs ...tls.Certificate) *http.Client {
	t.Helper()
	pem, err := os.ReadFile(caFile)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(pem)
	cfg := &tls.Config{RootCAs: pool}
	if len(certs) > 0 {
		// Sent whatever CAs the server names (tls.Config.Certificates
		// would send none that another CA signed).
		cfg.GetClientCertificate = func(*tls.CertificateRequestInfo) (*tls.Certificate, error) { return &certs[0], nil }
	}
	return &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{DisableKeepAlives: true, TLSClientConfig: cfg}}
}

func get(c *http.Client, url, token string) (int, error) {
	req, _ := http.NewRequest("GET", url, nil)
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := c.Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, resp.Body)
	return resp.StatusCode, nil
}

// HTTPS is served with the configured certificate, a renewed certificate is
// served without a restart, and plain HTTP on the port is not answered.
func TestEdgeHTTPS(t *testing.T) {
	dir := t.TempDir()
	c := newCA(t, dir, "ca")
	issueCert(t, c, dir, "server", 100, x509.ExtKeyUsageServerAuth)
	env := testenv.StartWith(t, broker.Options{HTTPTLS: httpapi.TLSFiles{
		CertFile: filepath.Join(dir, "server.pem"), KeyFile: filepath.Join(dir, "server-key.pem")}})
	if !strings.HasPrefix(env.Base, "https://") {
		t.Fatalf("base %s", env.Base)
	}
	client := tlsClient(t, filepath.Join(dir, "ca.pem"))
	serial := func() int64 {
		t.Helper()
		resp, err := client.Get(env.Base + "/healthz")
		if err != nil {
			t.Fatalf("https: %v", err)
		}
		resp.Body.Close()
		return resp.TLS.PeerCertificates[0].SerialNumber.Int64()
	}
	if s := serial(); s != 100 {
		t.Errorf("serial %d, want 100", s)
	}
	if code, err := get(client, env.Base+"/v1/deliveries", demo.Token("leeds/pct")); err != nil || code != http.StatusOK {
		t.Errorf("deliveries over https: %d %v", code, err)
	}

	// Renewed in place: the next handshake (a second on) serves it.
	time.Sleep(1100 * time.Millisecond)
	issueCert(t, c, dir, "server", 101, x509.ExtKeyUsageServerAuth)
	deadline := time.Now().Add(5 * time.Second)
	for s := serial(); s != 101; s = serial() {
		if time.Now().After(deadline) {
			t.Fatalf("still serving serial %d after the renewal", s)
		}
		time.Sleep(200 * time.Millisecond)
	}
	// A half-written renewal (a key that is not the certificate's) leaves
	// the last good pair served.
	if err := os.WriteFile(filepath.Join(dir, "server-key.pem"), []byte("not a key"), 0o600); err != nil {
		t.Fatal(err)
	}
	time.Sleep(1100 * time.Millisecond)
	if s := serial(); s != 101 {
		t.Errorf("after a broken renewal: serial %d, want 101 still", s)
	}

	// Plain HTTP to the HTTPS port: no answer but the server's refusal.
	plain := &http.Client{Timeout: 5 * time.Second}
	if code, err := get(plain, "http://"+env.Broker.HTTPAddr()+"/v1/deliveries", demo.Token("leeds/pct")); err == nil && code == http.StatusOK {
		t.Errorf("plain HTTP answered %d", code)
	}
	// A client that does not trust the CA is refused at the handshake.
	if _, err := (&http.Client{Timeout: 5 * time.Second}).Get(env.Base + "/healthz"); err == nil {
		t.Error("a client without the CA connected")
	}
}

// With a client CA, a certificate from another CA is refused at the
// handshake; one the CA signed is accepted (the token is still required);
// no certificate is accepted unless client certificates are required.
func TestEdgeMutualTLS(t *testing.T) {
	dir := t.TempDir()
	c := newCA(t, dir, "ca")
	other := newCA(t, dir, "other")
	issueCert(t, c, dir, "server", 200, x509.ExtKeyUsageServerAuth)
	issueCert(t, c, dir, "agency", 201, x509.ExtKeyUsageClientAuth)
	issueCert(t, other, dir, "stranger", 202, x509.ExtKeyUsageClientAuth)
	load := func(name string) tls.Certificate {
		cert, err := tls.LoadX509KeyPair(filepath.Join(dir, name+".pem"), filepath.Join(dir, name+"-key.pem"))
		if err != nil {
			t.Fatal(err)
		}
		return cert
	}
	files := httpapi.TLSFiles{CertFile: filepath.Join(dir, "server.pem"), KeyFile: filepath.Join(dir, "server-key.pem"),
		ClientCAFile: filepath.Join(dir, "ca.pem")}
	for _, required := range []bool{false, true} {
		files.RequireClientCert = required
		env := testenv.StartWith(t, broker.Options{HTTPTLS: files})
		url, tok := env.Base+"/v1/deliveries", demo.Token("leeds/pct")
		caFile := filepath.Join(dir, "ca.pem")
		if code, err := get(tlsClient(t, caFile, load("agency")), url, tok); err != nil || code != http.StatusOK {
			t.Errorf("required %v: the agency's certificate: %d %v", required, code, err)
		}
		if code, err := get(tlsClient(t, caFile, load("agency")), url, ""); err != nil || code != http.StatusUnauthorized {
			t.Errorf("required %v: a certificate without a token: %d %v, want 401", required, code, err)
		}
		if code, err := get(tlsClient(t, caFile, load("stranger")), url, tok); err == nil {
			t.Errorf("required %v: another CA's certificate answered %d", required, code)
		}
		code, err := get(tlsClient(t, caFile), url, tok)
		if required && err == nil {
			t.Errorf("required: no certificate answered %d", code)
		}
		if !required && (err != nil || code != http.StatusOK) {
			t.Errorf("optional: no certificate: %d %v", code, err)
		}
	}
}

// Plain HTTP on an address other hosts reach refuses to start, saying why,
// unless explicitly allowed; loopback is allowed.
func TestEdgePlainHTTPRefusedBeyondLoopback(t *testing.T) {
	start := func(o broker.Options) (*broker.Broker, error) {
		o.Config, o.Policies = demo.Config(), policies.FS
		o.Embedded = natsauth.EmbeddedOptions{Listen: "127.0.0.1:0", StoreDir: t.TempDir()}
		b, err := broker.New(t.Context(), o)
		if b != nil {
			t.Cleanup(b.Close)
		}
		return b, err
	}
	for _, o := range []broker.Options{{HTTPAddr: "0.0.0.0:0"}, {HTTPAddr: ":0"}, {HTTPAddr: "127.0.0.1:0", MetricsAddr: "0.0.0.0:0"}} {
		_, err := start(o)
		if !errors.Is(err, httpapi.ErrPlainHTTP) || !strings.Contains(err.Error(), "--http-insecure-allow-plain") {
			t.Errorf("%+v: %v, want a refusal naming --http-insecure-allow-plain", o, err)
		}
	}
	b, err := start(broker.Options{HTTPAddr: "0.0.0.0:0", HTTPInsecureAllowPlain: true})
	if err != nil {
		t.Fatalf("--http-insecure-allow-plain: %v", err)
	}
	if !strings.HasPrefix(b.HTTPURL(), "http://") {
		t.Errorf("url %s", b.HTTPURL())
	}
}

// A request whose body has not arrived in full within the read timeout is
// cut, whoever sends it; the default timeout is 30 s.
func TestEdgeSlowBodyCut(t *testing.T) {
	if d := httpapi.DefaultLimits(); d.ReadTimeout != 30*time.Second || d.ReadHeaderTimeout != 10*time.Second {
		t.Errorf("defaults: read %s, header %s; want 30s and 10s", d.ReadTimeout, d.ReadHeaderTimeout)
	}
	if srv := httpapi.NewHTTPServer(nil, httpapi.Limits{}, zap.NewNop()); srv.ReadTimeout != 30*time.Second ||
		srv.WriteTimeout == 0 || srv.IdleTimeout == 0 || srv.ReadHeaderTimeout == 0 {
		t.Errorf("a zero Limits serves with read %s, write %s, idle %s", srv.ReadTimeout, srv.WriteTimeout, srv.IdleTimeout)
	}
	const readTimeout = time.Second
	env := testenv.StartWith(t, broker.Options{HTTPLimits: httpapi.Limits{ReadTimeout: readTimeout}})
	for name, auth := range map[string]string{"participant": "Authorization: Bearer " + demo.Token("leeds/pct") + "\r\n", "no token": ""} {
		conn, err := net.Dial("tcp", env.Broker.HTTPAddr())
		if err != nil {
			t.Fatal(err)
		}
		start := time.Now()
		_, _ = io.WriteString(conn, "POST /v1/events HTTP/1.1\r\nHost: broker\r\n"+auth+
			"Content-Type: application/cloudevents+json\r\nContent-Length: 100000\r\n\r\n{\"specversion\":")
		// The body never comes: the server must answer or close by itself.
		_ = conn.SetReadDeadline(time.Now().Add(15 * time.Second))
		rd := bufio.NewReader(conn)
		status, _ := rd.ReadString('\n')
		_, err = io.Copy(io.Discard, rd) // until the server closes
		took := time.Since(start)
		conn.Close()
		var ne net.Error
		if errors.As(err, &ne) && ne.Timeout() {
			t.Errorf("%s: the connection is still open after %s", name, took)
			continue
		}
		if took > readTimeout+3*time.Second {
			t.Errorf("%s: cut after %s, read timeout %s", name, took, readTimeout)
		}
		if strings.Contains(status, " 202 ") {
			t.Errorf("%s: a partial body was accepted: %s", name, status)
		}
		t.Logf("%s: %q, closed after %s", name, strings.TrimSpace(status), took.Round(time.Millisecond))
	}
	// Headers that never end are cut too (ReadHeaderTimeout, at most ReadTimeout).
	conn, err := net.Dial("tcp", env.Broker.HTTPAddr())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	start := time.Now()
	_, _ = io.WriteString(conn, "GET /healthz HTTP/1.1\r\nHost: broker\r\nX-Slow: ")
	_ = conn.SetReadDeadline(time.Now().Add(15 * time.Second))
	_, err = io.Copy(io.Discard, conn)
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() || time.Since(start) > readTimeout+3*time.Second {
		t.Errorf("slow headers: open after %s", time.Since(start))
	}
}

// The write timeout bounds an ordinary answer, but not a long operation's
// NDJSON stream, whose lines each get their own deadline.
func TestEdgeWriteTimeoutSparesStreams(t *testing.T) {
	env := testenv.StartWith(t, broker.Options{HTTPLimits: httpapi.Limits{WriteTimeout: time.Nanosecond}})
	client := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{DisableKeepAlives: true}}
	if code, err := get(client, env.Base+"/v1/audit?child="+amy, demo.OperatorToken); err == nil {
		t.Errorf("an answer after the write timeout arrived: %d", code)
	}
	req, _ := http.NewRequest("GET", env.Base+"/v1/audit/verify", nil)
	req.Header.Set("Authorization", "Bearer "+demo.OperatorToken)
	resp, err := client.Do(req)
	if err != nil {
		t.Fatalf("verify stream: %v", err)
	}
	body, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil || resp.StatusCode != http.StatusOK || !strings.Contains(string(body), `"result"`) {
		t.Errorf("verify stream: %d %v %s", resp.StatusCode, err, body)
	}
}

// At most MaxConns connections are held: one more waits until one closes.
func TestEdgeConnectionLimit(t *testing.T) {
	env := testenv.StartWith(t, broker.Options{HTTPLimits: httpapi.Limits{MaxConns: 2, ReadHeaderTimeout: 2 * time.Second}})
	var idle []net.Conn
	for range 2 {
		c, err := net.Dial("tcp", env.Broker.HTTPAddr())
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		idle = append(idle, c)
	}
	time.Sleep(200 * time.Millisecond) // both accepted
	quick := &http.Client{Timeout: 500 * time.Millisecond, Transport: &http.Transport{DisableKeepAlives: true}}
	if code, err := get(quick, env.Base+"/healthz", ""); err == nil {
		t.Errorf("a third connection was served (%d) while two were held", code)
	}
	// The idle ones send no request: cut after the header timeout, and the
	// waiting connections are served.
	for _, c := range idle {
		_ = c.SetReadDeadline(time.Now().Add(10 * time.Second))
		if _, err := io.Copy(io.Discard, c); err != nil {
			t.Errorf("idle connection not closed: %v", err)
		}
	}
	slow := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{DisableKeepAlives: true}}
	if code, err := get(slow, env.Base+"/healthz", ""); err != nil || code != http.StatusOK {
		t.Errorf("after the idle connections closed: %d %v", code, err)
	}
}
