package broker

// The HTTP edge (docs/security.md, "The HTTP edge"): the API's listener,
// HTTPS or plain on loopback, its timeouts and connection limit, and the
// optional metrics address.

import (
	"errors"
	"fmt"
	"net"
	"net/http"
	"strings"

	"github.com/ecm-broker/ecm-broker/broker/console"
	"github.com/ecm-broker/ecm-broker/broker/httpapi"
	"go.uber.org/zap"
)

// checkEdge refuses, before anything starts, an edge that would serve plain
// HTTP to other hosts.
func checkEdge(o Options) error {
	if o.HTTPTLS.Enabled() || o.HTTPInsecureAllowPlain {
		return nil
	}
	for _, l := range []struct{ flag, addr string }{{"--http", o.HTTPAddr}, {"--metrics-listen", o.MetricsAddr}} {
		if l.addr != "" && !httpapi.IsLoopback(l.addr) {
			return fmt.Errorf("%s %s: %w; give --http-tls-cert and --http-tls-key, listen on 127.0.0.1, or (behind a proxy that terminates TLS) --http-insecure-allow-plain",
				l.flag, l.addr, httpapi.ErrPlainHTTP)
		}
	}
	return nil
}

// listenHTTP opens the API's listener (and the metrics listener) and builds
// their servers.
func (b *Broker) listenHTTP(o Options, api *httpapi.Server) error {
	addr := o.HTTPAddr
	if addr == "" {
		addr = "127.0.0.1:8080"
	}
	limits := o.HTTPLimits.WithDefaults()
	ln, err := httpapi.Listen("--http", addr, o.HTTPTLS, o.HTTPInsecureAllowPlain, limits.MaxConns, b.log)
	if err != nil {
		return err
	}
	b.httpLn, b.httpTLS = ln, o.HTTPTLS.Enabled()
	// The IG console is on the same listener, at /console: it calls the
	// API in-process (broker/console).
	cons, err := console.New(console.Deps{API: api, Config: b.cfg, Log: b.log.Named("console")})
	if err != nil {
		return err
	}
	mux := http.NewServeMux()
	mux.Handle("/console", cons.Handler())
	mux.Handle("/console/", cons.Handler())
	mux.Handle("/", api.Handler())
	b.httpSrv = httpapi.NewHTTPServer(mux, limits, b.log)
	if o.MetricsAddr != "" {
		if b.metricsLn, err = httpapi.Listen("--metrics-listen", o.MetricsAddr, o.HTTPTLS, o.HTTPInsecureAllowPlain, 64, b.log); err != nil {
			return err
		}
		mux := http.NewServeMux()
		mux.Handle("GET /metrics", api.MetricsHandler())
		b.metricsSrv = httpapi.NewHTTPServer(mux, limits, b.log)
	}
	b.log.Info("http api listening", zap.String("url", b.HTTPURL()), zap.String("metrics", b.MetricsAddr()), zap.Bool("client_ca", o.HTTPTLS.ClientCAFile != ""),
		zap.Duration("read_timeout", limits.ReadTimeout), zap.Duration("write_timeout", limits.WriteTimeout),
		zap.Duration("idle_timeout", limits.IdleTimeout), zap.Int("max_conns", limits.MaxConns))
	if !b.httpTLS && !httpapi.IsLoopback(addr) {
		b.log.Warn("the API serves plain HTTP beyond loopback (--http-insecure-allow-plain): a proxy in front must terminate TLS")
	}
	if shared := b.cfg.SharedSecrets(); len(shared) > 0 {
		b.log.Warn("the HTTP token is also the NATS password of these identities: set nats_password or nkey to separate them",
			zap.String("identities", strings.Join(shared, ", ")))
	}
	return nil
}

// serveHTTP runs the API and metrics servers until Close.
func (b *Broker) serveHTTP() {
	serve := func(srv *http.Server, ln net.Listener, what string) {
		defer b.wg.Done()
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			b.log.Error(what+" stopped", zap.Error(err))
		}
	}
	b.wg.Add(1)
	go serve(b.httpSrv, b.httpLn, "http api")
	if b.metricsSrv != nil {
		b.wg.Add(1)
		go serve(b.metricsSrv, b.metricsLn, "metrics listener")
	}
}

// ConsoleURL is the address of the IG console in a browser on this host.
func (b *Broker) ConsoleURL() string { return b.HTTPURL() + "/console/" }

// HTTPURL is the API's base URL for a client on this host: https:// when it
// serves TLS; 127.0.0.1 when it listens on every interface.
func (b *Broker) HTTPURL() string {
	addr := b.HTTPAddr()
	if host, port, err := net.SplitHostPort(addr); err == nil {
		if ip := net.ParseIP(host); ip != nil && ip.IsUnspecified() {
			addr = net.JoinHostPort("127.0.0.1", port)
		}
	}
	if b.httpTLS {
		return "https://" + addr
	}
	return "http://" + addr
}

// MetricsAddr is the address of the metrics listener, or "" without one.
func (b *Broker) MetricsAddr() string {
	if b.metricsLn == nil {
		return ""
	}
	return b.metricsLn.Addr().String()
}
