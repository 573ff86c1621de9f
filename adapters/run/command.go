package run

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"regexp"
	"strings"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"

	"github.com/ecm-broker/ecm-broker/adapters"
	"github.com/ecm-broker/ecm-broker/wire"
)

// Config is what cmd/ecm-adapter's flags say.
type Config struct {
	Agency adapters.Agency
	Area   string

	// Exactly one source: Watch, Stdin, HTTP, MLLP or Files.
	Watch       string        // drop folder
	Poll        time.Duration // how often Watch is looked at
	Stdin       bool
	Format      string // stdin's format hint; MLLP's, default hl7
	Rejects     string // stdin's rejects file; default <Format>.rejects
	HTTP        string // address of the export endpoint
	HTTPToken   string // bearer token the endpoint requires, if any
	MLLP        string // address of the HL7 v2 MLLP listener
	MLLPTimeout time.Duration
	Files       []string

	// DryRun prints the events to Stdout and publishes nothing.
	DryRun bool
	// AllowRejects lets files and stdin with rejected records end without
	// an error, as a partial export accepted.
	AllowRejects bool

	// NATS, unless BrokerURL is set.
	Server, Creds, User, Password, NATSToken string
	TLSCA, TLSCert, TLSKey                   string
	MaxPending                               int

	// The broker's HTTP ingest.
	BrokerURL, BrokerToken string

	BatchEvents int
	Metrics     string // address of /metrics, if any
	Debug       bool

	In             io.Reader // stdin; os.Stdin when nil
	Stdout, Stderr io.Writer // os.Stdout, os.Stderr when nil
}

// Main runs the adapter as configured until its input ends (stdin, files)
// or ctx does (watch, http, mllp). An error means it could not run or, for
// stdin and files, not every record went through: an export could not be
// read, or a record was rejected (unless AllowRejects).
func Main(ctx context.Context, c Config) error {
	if c.In == nil {
		c.In = os.Stdin
	}
	if c.Stdout == nil {
		c.Stdout = os.Stdout
	}
	if c.Stderr == nil {
		c.Stderr = os.Stderr
	}
	if err := c.check(); err != nil {
		return err
	}
	log := newLogger(c.Stderr, c.Debug)
	defer log.Sync() //nolint:errcheck

	var dryRejects io.Writer
	if c.DryRun {
		dryRejects = c.Stderr
	}
	var metrics *Metrics
	if c.Metrics != "" {
		reg := prometheus.NewRegistry()
		reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
		metrics = NewMetrics(reg)
		stop, err := serveMetrics(c.Metrics, reg, log)
		if err != nil {
			return err
		}
		defer stop()
	}
	pub, err := c.publisher(log)
	if err != nil {
		return err
	}
	defer pub.Close()
	r, err := New(Options{Agency: c.Agency, Area: c.Area, Publisher: pub, Logger: log,
		Metrics: metrics, BatchEvents: c.BatchEvents})
	if err != nil {
		return err
	}

	var src Source
	once := false
	switch {
	case c.Watch != "":
		src = NewFolderSource(FolderOptions{Dir: c.Watch, Poll: c.Poll, DryRun: c.DryRun, DryRunRejects: dryRejects, Logger: log})
	case c.Stdin:
		rejects := c.Rejects
		if rejects == "" {
			rejects = c.Format + rejectsExt
		}
		src, once = NewStdinSource(c.In, c.Format, rejects, dryRejects), true
	case c.HTTP != "":
		src = NewHTTPSource(HTTPSourceOptions{Addr: c.HTTP, Token: c.HTTPToken, Logger: log})
	case c.MLLP != "":
		src = NewMLLPSource(MLLPSourceOptions{Addr: c.MLLP, Format: c.Format, Timeout: c.MLLPTimeout,
			DryRunRejects: dryRejects, Metrics: metrics, Logger: log})
	default:
		src, once = NewFilesSource(c.Files, dryRejects), true
	}
	err = r.Run(ctx, src)
	t := r.Totals()
	log.Info("totals", zap.Int64("exports", t.Exports), zap.Int64("records_read", t.Read),
		zap.Int64("events_published", t.Published), zap.Int64("records_rejected", t.Rejected),
		zap.Int64("exports_failed", t.Failed), zap.Bool("dry_run", c.DryRun))
	if err != nil {
		return err
	}
	switch {
	case once && t.Failed > 0:
		return fmt.Errorf("%d of %d export(s) failed, see the rejects", t.Failed, t.Exports)
	case once && t.Rejected > 0 && !c.AllowRejects:
		return fmt.Errorf("%d record(s) rejected, see the rejects (--allow-rejects accepts a partial export)", t.Rejected)
	}
	return nil
}

func (c *Config) check() error {
	if c.Agency == nil {
		return errors.New("--agency is required")
	}
	if !areaRE.MatchString(c.Area) {
		return fmt.Errorf("--area %q must be an area slug like leeds", c.Area)
	}
	sources := 0
	for _, set := range []bool{c.Watch != "", c.Stdin, c.HTTP != "", c.MLLP != "", len(c.Files) > 0} {
		if set {
			sources++
		}
	}
	if sources != 1 {
		return errors.New("give exactly one input: --watch DIR, --stdin, --http ADDR, --mllp ADDR or files")
	}
	if c.MLLP != "" {
		format := c.Format
		if format == "" {
			format = "hl7"
		}
		if _, err := c.Agency.Open(format, strings.NewReader(""), c.Area); err != nil {
			return fmt.Errorf("--mllp carries HL7 v2, which this agency does not read: %w", err)
		}
	}
	if c.Stdin && c.Format == "" {
		return errors.New("--stdin needs --format (e.g. hl7, census.csv)")
	}
	for _, f := range c.Files {
		st, err := os.Stat(f)
		if err != nil {
			return err
		}
		if !st.Mode().IsRegular() {
			return fmt.Errorf("%s is not a file", f)
		}
	}
	if !c.DryRun && c.BrokerURL != "" && c.BrokerToken == "" {
		return errors.New("--broker-url needs a participant token (--token-env or --broker-token)")
	}
	return nil
}

// areaRE is an area slug, as the adapters and the broker spell areas.
var areaRE = regexp.MustCompile(`^[a-z][a-z0-9-]{1,39}$`)

func (c *Config) publisher(log *zap.Logger) (Publisher, error) {
	switch {
	case c.DryRun:
		return NewDryRunPublisher(c.Stdout), nil
	case c.BrokerURL != "":
		return NewHTTPPublisher(HTTPOptions{URL: c.BrokerURL, Token: c.BrokerToken, Logger: log})
	}
	var opts []nats.Option
	if c.Creds != "" {
		opts = append(opts, nats.UserCredentials(c.Creds))
	}
	if c.User != "" {
		opts = append(opts, nats.UserInfo(c.User, c.Password))
	}
	if c.NATSToken != "" {
		opts = append(opts, nats.Token(c.NATSToken))
	}
	if c.TLSCA != "" {
		opts = append(opts, nats.RootCAs(c.TLSCA))
	}
	if c.TLSCert != "" || c.TLSKey != "" {
		opts = append(opts, nats.ClientCert(c.TLSCert, c.TLSKey))
	}
	subject := wire.IngestSpace(c.Area + "/" + c.Agency.Name())
	log.Info("publishing over nats", zap.String("subject", subject))
	return NewNATSPublisher(subject, NATSOptions{URL: c.Server, Options: opts, MaxPending: c.MaxPending, Logger: log})
}

// newLogger logs JSON to w.
func newLogger(w io.Writer, debug bool) *zap.Logger {
	enc := zap.NewProductionEncoderConfig()
	enc.EncodeTime = zapcore.ISO8601TimeEncoder
	level := zapcore.InfoLevel
	if debug {
		level = zapcore.DebugLevel
	}
	core := zapcore.NewCore(zapcore.NewJSONEncoder(enc), zapcore.Lock(zapcore.AddSync(w)), level)
	return zap.New(core).Named("ecm-adapter")
}

// serveMetrics serves /metrics on addr until stop is called.
func serveMetrics(addr string, reg *prometheus.Registry, log *zap.Logger) (stop func(), err error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("metrics: %w", err)
	}
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	go func() {
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			log.Error("metrics server stopped", zap.Error(err))
		}
	}()
	log.Info("serving metrics", zap.String("addr", ln.Addr().String()))
	return func() {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		srv.Shutdown(ctx)
	}, nil
}
