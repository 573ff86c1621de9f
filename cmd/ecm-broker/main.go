// Command ecm-broker runs the broker: by default with an embedded
// nats-server (JetStream, file store under --data) and the policies compiled
// in; with --nats, against an external NATS server or cluster.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"

	"github.com/ecm-broker/ecm-broker/broker"
	"github.com/ecm-broker/ecm-broker/broker/demo"
	"github.com/ecm-broker/ecm-broker/policies"
	"github.com/nats-io/nats.go"
	"go.uber.org/zap"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "ecm-broker:", err)
		os.Exit(1)
	}
}

func run() error {
	var (
		configPath = flag.String("config", "", "configuration file (YAML); required unless --demo")
		dataDir    = flag.String("data", "data", "embedded JetStream file store")
		natsURL    = flag.String("nats", "", "external NATS server URL(s); empty starts an embedded server")
		creds      = flag.String("creds", "", "NATS credentials file (with --nats)")
		user       = flag.String("user", "", "NATS user (with --nats)")
		password   = flag.String("password", os.Getenv("ECM_NATS_PASSWORD"), "NATS password (with --nats; or ECM_NATS_PASSWORD)")
		httpAddr   = flag.String("http", "127.0.0.1:8080", "HTTP API address; port 0 picks a free port")
		listen     = flag.String("listen", "127.0.0.1:4222", "embedded NATS address; port 0 picks a free port")
		policyDir  = flag.String("policies", "", "policy directory or OPA bundle (.tar.gz), watched and reloaded when it changes (default: the policies built in)")
		syncAlways = flag.Bool("sync-always", false, "embedded JetStream fsyncs every write before acknowledging it")
		runDemo    = flag.Bool("demo", false, "run with a sample configuration, publish a demo sequence and print who received what and why")
		debug      = flag.Bool("debug", false, "debug logging")
	)
	flag.Parse()

	logCfg := zap.NewProductionConfig()
	if *debug {
		logCfg.Level = zap.NewAtomicLevelAt(zap.DebugLevel)
	}
	log, err := logCfg.Build()
	if err != nil {
		return err
	}
	defer log.Sync() //nolint:errcheck

	var cfg *broker.Config
	switch {
	case *configPath != "":
		if cfg, err = broker.LoadConfig(*configPath); err != nil {
			return err
		}
	case *runDemo:
		cfg = demo.Config()
	default:
		return fmt.Errorf("--config is required (or --demo)")
	}
	var natsOpts []nats.Option
	if *creds != "" {
		natsOpts = append(natsOpts, nats.UserCredentials(*creds))
	}
	if *user != "" {
		natsOpts = append(natsOpts, nats.UserInfo(*user, *password))
	}
	store, err := filepath.Abs(*dataDir)
	if err != nil {
		return err
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	b, err := broker.New(ctx, broker.Options{
		Config: cfg, NATSURL: *natsURL, NATSOpts: natsOpts, HTTPAddr: *httpAddr,
		Embedded: broker.EmbeddedOptions{Listen: *listen, StoreDir: store, SyncAlways: *syncAlways},
		Policies: policies.FS, PolicyDir: *policyDir, Logger: log,
	})
	if err != nil {
		return err
	}
	defer b.Close()
	b.Start()
	if *runDemo {
		if err := demo.Run(ctx, os.Stdout, b, cfg); err != nil {
			return err
		}
		fmt.Printf("\nThe broker keeps running: API http://%s, NATS %s. Ctrl-C to stop.\n", b.HTTPAddr(), b.NATSURL())
	}
	<-ctx.Done()
	log.Info("stopping")
	return nil
}
