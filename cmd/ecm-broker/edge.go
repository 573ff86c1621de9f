package main

import (
	"flag"

	"github.com/ecm-broker/ecm-broker/broker"
	"github.com/ecm-broker/ecm-broker/broker/httpapi"
)

// edgeFlags are the HTTP edge's flags (docs/security.md, "The HTTP edge").
type edgeFlags struct {
	tls           httpapi.TLSFiles
	insecurePlain *bool
	metrics       *string
	limits        httpapi.Limits
}

func newEdgeFlags() *edgeFlags {
	e := &edgeFlags{}
	d := httpapi.DefaultLimits()
	flag.StringVar(&e.tls.CertFile, "http-tls-cert", "", "HTTPS certificate of the API (PEM), read again when it changes")
	flag.StringVar(&e.tls.KeyFile, "http-tls-key", "", "private key of --http-tls-cert (PEM), read again when it changes")
	flag.StringVar(&e.tls.ClientCAFile, "http-client-ca", "", "CA(s) whose client certificates the API verifies (mutual TLS); the token is still required")
	flag.BoolVar(&e.tls.RequireClientCert, "http-client-cert-required", false, "with --http-client-ca: refuse clients without a certificate")
	e.insecurePlain = flag.Bool("http-insecure-allow-plain", false, "serve plain HTTP on an address other than loopback (only behind a proxy that terminates TLS)")
	e.metrics = flag.String("metrics-listen", "", "address serving /metrics without a token (the API's /metrics needs an operator token)")
	flag.DurationVar(&e.limits.ReadHeaderTimeout, "http-read-header-timeout", d.ReadHeaderTimeout, "a request's headers must arrive within this")
	flag.DurationVar(&e.limits.ReadTimeout, "http-read-timeout", d.ReadTimeout, "a request not arrived in full (body included) within this is cut")
	flag.DurationVar(&e.limits.WriteTimeout, "http-write-timeout", d.WriteTimeout, "an answer must be written within this (NDJSON streams: each line within 1m instead)")
	flag.DurationVar(&e.limits.IdleTimeout, "http-idle-timeout", d.IdleTimeout, "an idle keep-alive connection is closed after this")
	flag.IntVar(&e.limits.MaxConns, "http-max-conns", d.MaxConns, "most API connections at once; more wait to be accepted")
	return e
}

// apply sets the edge in the broker's options.
func (e *edgeFlags) apply(o *broker.Options) {
	o.HTTPTLS, o.HTTPInsecureAllowPlain, o.MetricsAddr, o.HTTPLimits = e.tls, *e.insecurePlain, *e.metrics, e.limits
}
