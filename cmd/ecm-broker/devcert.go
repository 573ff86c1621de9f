package main

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"flag"
	"fmt"
	"io"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// devCert writes a throwaway CA and a server certificate signed by it for
// the hosts named, for the compose setup and trials (docs/security.md):
// ca.pem (give it to clients: curl --cacert, ecmctl), server.pem and
// server-key.pem (--http-tls-cert, --http-tls-key). The CA's key is not
// kept. Certificates already there and valid for another week are left as
// they are, so a restart does not change them. Not for production: use
// certificates from your own CA there.
func devCert(args []string, out io.Writer) error {
	fs := flag.NewFlagSet("ecm-broker dev-cert", flag.ContinueOnError)
	dir := fs.String("dir", ".", "directory to write ca.pem, server.pem and server-key.pem in")
	hosts := fs.String("hosts", "localhost,127.0.0.1", "names and addresses the server certificate is for, comma-separated")
	valid := fs.Duration("valid", 90*24*time.Hour, "how long the certificates are valid")
	if err := fs.Parse(args); err != nil {
		return err
	}
	certFile, keyFile, caFile := filepath.Join(*dir, "server.pem"), filepath.Join(*dir, "server-key.pem"), filepath.Join(*dir, "ca.pem")
	if pair, err := tls.LoadX509KeyPair(certFile, keyFile); err == nil && pair.Leaf != nil && time.Until(pair.Leaf.NotAfter) > 7*24*time.Hour {
		if _, err := os.Stat(caFile); err == nil {
			fmt.Fprintf(out, "dev-cert: %s is valid until %s; left as it is\n", certFile, pair.Leaf.NotAfter.Format(time.DateOnly))
			return nil
		}
	}
	if err := os.MkdirAll(*dir, 0o755); err != nil {
		return err
	}
	now := time.Now()
	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return err
	}
	caTmpl := &x509.Certificate{SerialNumber: serial(), Subject: pkix.Name{CommonName: "ecm-broker development CA"},
		NotBefore: now.Add(-time.Hour), NotAfter: now.Add(*valid), IsCA: true, BasicConstraintsValid: true, MaxPathLenZero: true,
		KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		return err
	}
	ca, _ := x509.ParseCertificate(caDER)
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return err
	}
	tmpl := &x509.Certificate{SerialNumber: serial(), Subject: pkix.Name{CommonName: "ecm-broker"},
		NotBefore: now.Add(-time.Hour), NotAfter: now.Add(*valid),
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}
	for _, h := range strings.Split(*hosts, ",") {
		if h = strings.TrimSpace(h); h == "" {
			continue
		} else if ip := net.ParseIP(h); ip != nil {
			tmpl.IPAddresses = append(tmpl.IPAddresses, ip)
		} else {
			tmpl.DNSNames = append(tmpl.DNSNames, h)
		}
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, &key.PublicKey, caKey)
	if err != nil {
		return err
	}
	kder, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		return err
	}
	for _, f := range []struct {
		path, kind string
		der        []byte
		mode       os.FileMode
	}{{caFile, "CERTIFICATE", caDER, 0o644}, {keyFile, "EC PRIVATE KEY", kder, 0o600}, {certFile, "CERTIFICATE", der, 0o644}} {
		if err := os.WriteFile(f.path, pem.EncodeToMemory(&pem.Block{Type: f.kind, Bytes: f.der}), f.mode); err != nil {
			return fmt.Errorf("dev-cert: %w", err)
		}
	}
	fmt.Fprintf(out, "dev-cert: wrote %s, %s and %s for %s, valid until %s\n", caFile, certFile, keyFile, *hosts,
		tmpl.NotAfter.Format(time.DateOnly))
	return nil
}

func serial() *big.Int {
	n, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
	if err != nil {
		panic(err)
	}
	return n
}
