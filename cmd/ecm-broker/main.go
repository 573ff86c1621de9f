// Command ecm-broker runs the broker: by default with an embedded
// nats-server (JetStream, file store under --data) and the policies compiled
// in; with --nats, against an external NATS server or cluster.
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"

	"github.com/ecm-broker/ecm-broker/broker"
	"github.com/ecm-broker/ecm-broker/broker/config"
	"github.com/ecm-broker/ecm-broker/broker/natsauth"
	"github.com/ecm-broker/ecm-broker/demo"
	"github.com/ecm-broker/ecm-broker/policies"
	"github.com/ecm-broker/ecm-broker/wire"
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
	if len(os.Args) > 1 && os.Args[1] == "nats-config" { // NATS identities for an external server (docs/security.md)
		return natsConfig(os.Args[2:], os.Stdout)
	}
	if len(os.Args) > 1 && os.Args[1] == "hash-token" { // token_hash for the configuration (hashtoken.go)
		return hashToken(os.Args[2:], os.Stdin, os.Stdout)
	}
	if len(os.Args) > 1 && os.Args[1] == "dev-cert" { // a throwaway CA and server certificate (devcert.go)
		return devCert(os.Args[2:], os.Stdout)
	}
	var (
		configPath  = flag.String("config", "", "configuration file (YAML); required unless --demo")
		dataDir     = flag.String("data", "data", "embedded JetStream file store")
		natsURL     = flag.String("nats", "", "external NATS server URL(s); empty starts an embedded server")
		creds       = flag.String("creds", "", "NATS credentials file (with --nats)")
		user        = flag.String("user", "", "NATS user (with --nats)")
		password    = flag.String("password", os.Getenv("ECM_NATS_PASSWORD"), "NATS password (with --nats; or ECM_NATS_PASSWORD)")
		httpAddr    = flag.String("http", "127.0.0.1:8080", "HTTP API address; port 0 picks a free port")
		listen      = flag.String("listen", "127.0.0.1:4222", "embedded NATS address; port 0 picks a free port")
		policyDir   = flag.String("policies", "", "policy directory or OPA bundle (.tar.gz) deployed (default: the policies built in); changes go live by four-eyes proposals (ecmctl policy propose)")
		policyWatch = flag.Bool("policy-watch", false, "development only: watch --policies and put a changed policy live without a second operator's approval (hot reload; logged as a warning)")
		syncAlways  = flag.Bool("sync-always", false, "embedded JetStream fsyncs every write before acknowledging it")
		runDemo     = flag.Bool("demo", false, "run with a sample configuration, publish a demo sequence and print who received what and why")
		debug       = flag.Bool("debug", false, "debug logging")
		// NATS isolation and TLS (broker/isolation.go, docs/security.md).
		nkeySeed = flag.String("nkey-seed", "", "file holding the broker's NKey seed (with --nats)")
		tlsCert  = flag.String("tls-cert", "", "embedded NATS: TLS certificate of the client port (PEM); with --nats: the broker's client certificate")
		tlsKey   = flag.String("tls-key", "", "private key of --tls-cert (PEM)")
		tlsCA    = flag.String("tls-ca", "", "CA that signed the NATS server's certificate, trusted by the broker's connection")
		natsOpen = flag.Bool("nats-open", false, "embedded NATS without identities: any client that reaches --listen may read and write everything (development only; --demo implies it)")
	)
	edge := newEdgeFlags() // HTTPS, timeouts, connection limit, metrics address (edge.go)
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

	var cfg *config.Config
	switch {
	case *configPath != "":
		if cfg, err = config.LoadConfig(*configPath); err != nil {
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
	if *nkeySeed != "" {
		opt, err := nats.NkeyOptionFromSeed(*nkeySeed)
		if err != nil {
			return fmt.Errorf("--nkey-seed: %w", err)
		}
		natsOpts = append(natsOpts, opt)
	}
	embedded := natsauth.EmbeddedOptions{Listen: *listen, StoreDir: *dataDir, SyncAlways: *syncAlways,
		// The demo's adapters still connect without an identity.
		Isolation: !*natsOpen}
	if *natsURL != "" {
		if *tlsCA != "" {
			natsOpts = append(natsOpts, nats.RootCAs(*tlsCA))
		}
		if *tlsCert != "" || *tlsKey != "" {
			natsOpts = append(natsOpts, nats.ClientCert(*tlsCert, *tlsKey))
		}
	} else {
		embedded.TLSCert, embedded.TLSKey, embedded.TLSCA = *tlsCert, *tlsKey, *tlsCA
	}
	if embedded.StoreDir, err = filepath.Abs(*dataDir); err != nil {
		return err
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	opts := broker.Options{
		Config: cfg, NATSURL: *natsURL, NATSOpts: natsOpts, HTTPAddr: *httpAddr,
		Embedded: embedded,
		Policies: policies.FS, PolicyDir: *policyDir, PolicyWatch: *policyWatch, Logger: log,
		AfterStored: failpoint(os.Getenv("ECM_FAILPOINT")),
	}
	edge.apply(&opts)
	b, err := broker.New(ctx, opts)
	if err != nil {
		return err
	}
	defer b.Close()
	b.Start()
	if *runDemo {
		if err := demo.Run(ctx, os.Stdout, b, cfg); err != nil {
			return err
		}
		fmt.Printf("\nThe broker keeps running: API %s, NATS %s. Ctrl-C to stop.\n", b.HTTPURL(), b.NATSURL())
	}
	<-ctx.Done()
	log.Info("stopping")
	return nil
}

// natsConfig prints the NATS accounts and users of a configuration, for an
// external nats-server to include (docs/security.md).
func natsConfig(args []string, out io.Writer) error {
	fs := flag.NewFlagSet("ecm-broker nats-config", flag.ContinueOnError)
	configPath := fs.String("config", "", "configuration file (YAML)")
	user := fs.String("user", wire.BrokerUser, "the broker's NATS user")
	password := fs.String("password", os.Getenv("ECM_NATS_PASSWORD"), "the broker's NATS password (or ECM_NATS_PASSWORD), written as a bcrypt hash")
	nkey := fs.String("nkey", "", "public key of the broker's NKey, instead of a password")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *configPath == "" {
		return fmt.Errorf("nats-config: --config is required")
	}
	cfg, err := config.LoadConfig(*configPath)
	if err != nil {
		return err
	}
	text, err := natsauth.AuthConfig(cfg, natsauth.BrokerIdentity{User: *user, Password: *password, NKey: *nkey})
	if err != nil {
		return err
	}
	_, err = io.WriteString(out, text)
	return err
}

// failpoint lets the crash tests (test/e2e) stop the process at a chosen
// point: ECM_FAILPOINT=after-deliveries:N exits as kill -9 would once N events
// have had their audit records and copies stored, before their child states
// are written or they are acknowledged. Unset in any normal run.
func failpoint(spec string) func(int64) {
	n, err := strconv.ParseInt(strings.TrimPrefix(spec, "after-deliveries:"), 10, 64)
	if spec == "" || err != nil || n <= 0 {
		return nil
	}
	return func(done int64) {
		if done >= n {
			os.Exit(99)
		}
	}
}
