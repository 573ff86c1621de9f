package main

import (
	"bytes"
	"crypto/tls"
	"crypto/x509"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// dev-cert writes a CA and a server certificate the CA verifies for each
// host named, and leaves valid ones alone on the next run.
func TestDevCert(t *testing.T) {
	dir := t.TempDir()
	var out bytes.Buffer
	if err := devCert([]string{"--dir", dir, "--hosts", "broker-1,broker-2,localhost,127.0.0.1"}, &out); err != nil {
		t.Fatal(err)
	}
	pair, err := tls.LoadX509KeyPair(filepath.Join(dir, "server.pem"), filepath.Join(dir, "server-key.pem"))
	if err != nil {
		t.Fatal(err)
	}
	caPEM, _ := os.ReadFile(filepath.Join(dir, "ca.pem"))
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(caPEM) {
		t.Fatal("ca.pem holds no certificate")
	}
	for _, host := range []string{"broker-1", "broker-2", "localhost", "127.0.0.1"} {
		if _, err := pair.Leaf.Verify(x509.VerifyOptions{Roots: pool, DNSName: host}); err != nil {
			t.Errorf("%s: %v", host, err)
		}
	}
	if _, err := pair.Leaf.Verify(x509.VerifyOptions{Roots: pool, DNSName: "elsewhere"}); err == nil {
		t.Error("valid for a host not named")
	}
	if fi, _ := os.Stat(filepath.Join(dir, "server-key.pem")); fi.Mode().Perm() != 0o600 {
		t.Errorf("key file mode %v", fi.Mode().Perm())
	}
	before, _ := os.ReadFile(filepath.Join(dir, "server.pem"))
	out.Reset()
	if err := devCert([]string{"--dir", dir}, &out); err != nil || !strings.Contains(out.String(), "left as it is") {
		t.Fatalf("second run: %v %s", err, out.String())
	}
	if after, _ := os.ReadFile(filepath.Join(dir, "server.pem")); !bytes.Equal(before, after) {
		t.Error("the second run changed the certificate")
	}
}
