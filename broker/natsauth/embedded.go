package natsauth

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"strconv"
	"time"

	"github.com/ecm-broker/ecm-broker/broker/config"
	"github.com/ecm-broker/ecm-broker/broker/event"
	"github.com/ecm-broker/ecm-broker/wire"
	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
)

// EmbeddedOptions configure the in-process nats-server of the default run.
type EmbeddedOptions struct {
	Listen   string // host:port; port 0 picks a free one
	StoreDir string // JetStream file store
	// SyncAlways makes JetStream fsync every write before acknowledging it
	// (sync_interval: always). Off, it syncs every two minutes, and an OS
	// crash can lose acknowledged writes.
	SyncAlways bool
	// Isolation gives the broker, each participant and the operators their
	// own NATS identities and accounts (isolation.go) and refuses clients
	// without one; the broker logs in with a password made at each start.
	// Off, any client that reaches the port may do anything: for tests and
	// the demo only. ecm-broker turns it on.
	Isolation bool
	// TLSCert and TLSKey (PEM files) make the client port TLS only. TLSCA is
	// the CA that signed TLSCert, trusted by the broker's own connection
	// (the system roots are used without it); the certificate must name the
	// host of Listen.
	TLSCert, TLSKey, TLSCA string
}

// StartEmbedded starts a nats-server with JetStream and waits until it
// accepts connections. With isolation, c gives the identities. It returns the
// options the broker connects with: its credentials and trust in TLSCA.
func StartEmbedded(o EmbeddedOptions, c *config.Config) (*server.Server, []nats.Option, error) {
	host, portStr, err := net.SplitHostPort(o.Listen)
	if err != nil {
		return nil, nil, fmt.Errorf("--listen %q: %w", o.Listen, err)
	}
	port, err := strconv.Atoi(portStr)
	if err != nil {
		return nil, nil, fmt.Errorf("--listen %q: bad port", o.Listen)
	}
	if port == 0 {
		port = server.RANDOM_PORT
	}
	opts := &server.Options{}
	var own []nats.Option
	if o.Isolation {
		if c == nil {
			return nil, nil, errors.New("embedded nats-server isolation needs the configuration")
		}
		id := BrokerIdentity{User: wire.BrokerUser, Password: randomHex(24)}
		auth, err := embeddedAuthConfig(c, id)
		if err != nil {
			return nil, nil, err
		}
		if err := opts.ProcessConfigString(auth); err != nil {
			return nil, nil, fmt.Errorf("embedded nats-server identities: %w", err)
		}
		own = append(own, nats.UserInfo(id.User, id.Password))
	}
	opts.ServerName = "ecm-embedded"
	opts.Host, opts.Port = host, port
	opts.JetStream, opts.StoreDir, opts.SyncAlways = true, o.StoreDir, o.SyncAlways
	opts.NoSigs = true
	opts.MaxPayload = event.MaxBytes + 64*1024
	switch {
	case o.TLSCert != "" || o.TLSKey != "":
		tc, err := server.GenTLSConfig(&server.TLSConfigOpts{CertFile: o.TLSCert, KeyFile: o.TLSKey, CaFile: o.TLSCA})
		if err != nil {
			return nil, nil, fmt.Errorf("--tls-cert/--tls-key: %w", err)
		}
		opts.TLS, opts.TLSConfig, opts.TLSTimeout = true, tc, 2
		if o.TLSCA != "" {
			own = append(own, nats.RootCAs(o.TLSCA))
		}
	case o.TLSCA != "":
		return nil, nil, errors.New("--tls-ca needs --tls-cert and --tls-key")
	}
	s, err := server.NewServer(opts)
	if err != nil {
		return nil, nil, fmt.Errorf("configuring embedded nats-server: %w", err)
	}
	go s.Start()
	if !s.ReadyForConnections(10 * time.Second) {
		s.Shutdown()
		return nil, nil, fmt.Errorf("embedded nats-server not ready after 10s")
	}
	return s, own, nil
}

func randomHex(n int) string {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		panic(err)
	}
	return hex.EncodeToString(b)
}
