package broker

import (
	"fmt"
	"net"
	"strconv"
	"time"

	"github.com/nats-io/nats-server/v2/server"
)

// EmbeddedOptions configure the in-process nats-server of the default run.
type EmbeddedOptions struct {
	Listen   string // host:port; port 0 picks a free one
	StoreDir string // JetStream file store
	// SyncAlways makes JetStream fsync every write before acknowledging it
	// (sync_interval: always). Off, it syncs every two minutes, and an OS
	// crash can lose acknowledged writes.
	SyncAlways bool
}

// StartEmbedded starts a nats-server with JetStream on loopback and waits
// until it accepts connections.
func StartEmbedded(o EmbeddedOptions) (*server.Server, error) {
	host, portStr, err := net.SplitHostPort(o.Listen)
	if err != nil {
		return nil, fmt.Errorf("--listen %q: %w", o.Listen, err)
	}
	port, err := strconv.Atoi(portStr)
	if err != nil {
		return nil, fmt.Errorf("--listen %q: bad port", o.Listen)
	}
	if port == 0 {
		port = server.RANDOM_PORT
	}
	opts := &server.Options{
		ServerName: "ecm-embedded",
		Host:       host,
		Port:       port,
		JetStream:  true,
		StoreDir:   o.StoreDir,
		SyncAlways: o.SyncAlways,
		NoSigs:     true,
		MaxPayload: maxEventBytes + 64*1024,
	}
	s, err := server.NewServer(opts)
	if err != nil {
		return nil, fmt.Errorf("configuring embedded nats-server: %w", err)
	}
	go s.Start()
	if !s.ReadyForConnections(10 * time.Second) {
		s.Shutdown()
		return nil, fmt.Errorf("embedded nats-server not ready after 10s")
	}
	return s, nil
}
