// Command ecm-adapter reads an agency's native exports, maps them to
// catalogue events and publishes them to the broker (package adapters/run).
//
//	ecm-adapter --agency pct --area leeds --watch /srv/drop/pct
//	ecm-adapter --agency lea --area leeds --stdin --format census.csv < census.csv
//	ecm-adapter --agency police --area leeds --http 127.0.0.1:8090
//	ecm-adapter --agency pct --area leeds --mllp 0.0.0.0:2575 --practices epraccur.csv
//	ecm-adapter --agency yot --area leeds --dry-run caseload.csv
//
// Exactly one input: --watch DIR (a drop folder, looked at every --poll;
// finished files move with their rejects to DIR/done, DIR/partial when some
// records were rejected, or DIR/failed when none went), --stdin with
// --format, --http ADDR (POST /v1/records?format=...), --mllp ADDR (HL7 v2
// over MLLP, each message answered with an HL7 ACK: AA stored, AE rejected,
// AR send again), or files named as arguments (each read once, then the
// command exits; non-zero if one could not be read or a record was rejected,
// unless --allow-rejects). Events go over NATS (--server, --creds,
// --user/--password, --token, as the nats CLI; NATS_URL, NATS_CREDS,
// NATS_USER, NATS_PASSWORD, NATS_TOKEN) to ecm.ingest.<area>.<agency>, or,
// with --broker-url, to the broker's HTTP ingest with the participant token
// from --broker-token or the variable named by --token-env. --dry-run prints
// the events, one JSON object a line, and publishes nothing.
//
// --practices FILE (pct) is the NHS ODS practice file, epraccur.csv, giving
// GP practices' names and phone numbers by code; --codes FILE (police, yot,
// connexions) replaces the agency's shipped code book. Every format, field,
// code and reject reason: docs/formats/<agency>.md.
//
// To time a 100,000-record export (a PCT involvements CSV with valid UINs)
// against a broker started with `go run ./cmd/ecm-broker --demo --data /tmp/ecm`:
//
//	mkdir -p /tmp/bench && awk 'BEGIN { print "record_id,uin,action,practitioner_name,role,phone,email,service,date"
//	  for (i = 0; n < 100000; i++) { s = sprintf("%09d", 401000000 + i); sum = 0
//	    for (k = 1; k <= 9; k++) sum += substr(s, k, 1) * (11 - k)
//	    c = 11 - sum % 11; if (c == 11) c = 0; if (c == 10) continue
//	    printf "HV-%06d,%s%d,involved,Sarah Whitaker,Health visitor,0113 843 2100,,Health visiting,2025-03-04\n", n++, s, c } }' \
//	  > /tmp/bench/health-visitor-involvements.csv
//	go build -o /tmp/ecm-adapter ./cmd/ecm-adapter
//	time /tmp/ecm-adapter --agency pct --area leeds --server nats://127.0.0.1:4222 \
//	  --user leeds/pct --password demo-token-leeds-pct /tmp/bench/health-visitor-involvements.csv
//
// The last log line ("totals") has the counts. Running it again adds nothing to
// the stream (every event id is already stored); delete
// /tmp/bench/.progress to start over after an interrupted run.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"sort"
	"strings"
	"syscall"
	"time"

	"github.com/ecm-broker/ecm-broker/adapters"
	"github.com/ecm-broker/ecm-broker/adapters/connexions"
	"github.com/ecm-broker/ecm-broker/adapters/lea"
	"github.com/ecm-broker/ecm-broker/adapters/pct"
	"github.com/ecm-broker/ecm-broker/adapters/police"
	"github.com/ecm-broker/ecm-broker/adapters/run"
	"github.com/ecm-broker/ecm-broker/adapters/yot"
)

var agencies = map[string]adapters.Agency{
	"pct":        pct.Agency{},
	"lea":        lea.Agency{},
	"connexions": connexions.Agency{},
	"yot":        yot.Agency{},
	"police":     police.Agency{},
}

func main() {
	var c run.Config
	var agency, tokenEnv, httpTokenEnv, practices, codes string
	flag.StringVar(&agency, "agency", "", "agency kind: "+strings.Join(names(), ", "))
	flag.StringVar(&c.Area, "area", "", "area slug, e.g. leeds")

	flag.StringVar(&c.Watch, "watch", "", "drop folder to watch")
	flag.DurationVar(&c.Poll, "poll", run.DefaultPoll, "how often --watch looks at the folder")
	flag.BoolVar(&c.Stdin, "stdin", false, "read one export from stdin (needs --format)")
	flag.StringVar(&c.Format, "format", "", "format of stdin, as a file name or format the agency knows (hl7, census.csv)")
	flag.StringVar(&c.Rejects, "rejects", "", "rejects file for --stdin (default <format>.rejects)")
	flag.StringVar(&c.HTTP, "http", "", "accept exports on POST http://ADDR/v1/records?format=...")
	flag.StringVar(&c.MLLP, "mllp", "", "pct: accept HL7 v2 messages over MLLP on ADDR (e.g. 0.0.0.0:2575), answering each with an HL7 ACK")
	flag.DurationVar(&c.MLLPTimeout, "mllp-timeout", 20*time.Second, "how long a message over MLLP may take to be stored before it is answered AR (send again)")
	flag.StringVar(&httpTokenEnv, "http-token-env", "", "environment variable holding the bearer token --http requires (none: no token)")
	flag.StringVar(&practices, "practices", "", "pct: the NHS ODS GP practice file (epraccur.csv) giving practices' names and phones by code; reloaded when it changes")
	flag.StringVar(&codes, "codes", "", "police, yot, connexions: a code book (CSV: code,maps_to) replacing the shipped one (adapters/<agency>/codes/)")
	flag.BoolVar(&c.AllowRejects, "allow-rejects", false, "files and --stdin: exit 0 when some records were rejected (a partial export accepted)")
	flag.BoolVar(&c.DryRun, "dry-run", false, "print the events (one JSON object a line) instead of publishing; counts to stderr")

	flag.StringVar(&c.Server, "server", env("NATS_URL", "nats://127.0.0.1:4222"), "NATS server URL(s) (NATS_URL)")
	flag.StringVar(&c.Creds, "creds", os.Getenv("NATS_CREDS"), "NATS credentials file (NATS_CREDS)")
	flag.StringVar(&c.User, "user", os.Getenv("NATS_USER"), "NATS user (NATS_USER)")
	flag.StringVar(&c.Password, "password", "", "NATS password (NATS_PASSWORD)")
	flag.StringVar(&c.NATSToken, "token", "", "NATS token (NATS_TOKEN)")
	flag.StringVar(&c.TLSCA, "tlsca", "", "CA certificate for the NATS server")
	flag.StringVar(&c.TLSCert, "tlscert", "", "client certificate for NATS")
	flag.StringVar(&c.TLSKey, "tlskey", "", "client key for NATS")
	flag.IntVar(&c.MaxPending, "max-pending", 4096, "most NATS publishes awaiting their ack")

	flag.StringVar(&c.BrokerURL, "broker-url", "", "publish over the broker's HTTP ingest at this URL instead of NATS")
	flag.StringVar(&tokenEnv, "token-env", "ECM_TOKEN", "environment variable holding the participant token for --broker-url")
	flag.StringVar(&c.BrokerToken, "broker-token", "", "participant token for --broker-url (prefer --token-env)")

	flag.IntVar(&c.BatchEvents, "batch", 1000, "events per publish batch (and per progress save)")
	flag.StringVar(&c.Metrics, "metrics", "", "serve Prometheus metrics on http://ADDR/metrics")
	flag.BoolVar(&c.Debug, "debug", false, "debug logging")
	flag.Parse()

	c.Files = flag.Args()
	// Secrets from the environment are read here, not as flag defaults, so
	// that -h does not print them.
	if c.Password == "" {
		c.Password = os.Getenv("NATS_PASSWORD")
	}
	if c.NATSToken == "" {
		c.NATSToken = os.Getenv("NATS_TOKEN")
	}
	if agency != "" {
		a, ok := agencies[agency]
		if !ok {
			fail(fmt.Errorf("unknown --agency %q: one of %s", agency, strings.Join(names(), ", ")))
		}
		c.Agency = a
	}
	if codes != "" {
		a, err := withCodeBook(agency, codes)
		if err != nil {
			fail(err)
		}
		c.Agency = a
	}
	if practices != "" {
		if agency != "pct" {
			fail(fmt.Errorf("--practices is for --agency pct"))
		}
		p, err := pct.LoadPractices(practices)
		if err != nil {
			fail(err)
		}
		c.Agency = pct.Agency{Practices: p}
	}
	if c.BrokerToken == "" && tokenEnv != "" {
		c.BrokerToken = os.Getenv(tokenEnv)
	}
	if httpTokenEnv != "" {
		if c.HTTPToken = os.Getenv(httpTokenEnv); c.HTTPToken == "" {
			fail(fmt.Errorf("--http-token-env %s: the variable is empty", httpTokenEnv))
		}
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run.Main(ctx, c); err != nil {
		fail(err)
	}
}

// withCodeBook is the agency reading its codes with the book in path.
func withCodeBook(agency, path string) (adapters.Agency, error) {
	var values []string
	switch agency {
	case "police":
		values = police.Kinds
	case "yot":
		values = yot.Orders
	case "connexions":
		values = connexions.Statuses
	default:
		return nil, fmt.Errorf("--codes is for --agency police, yot or connexions")
	}
	book, err := adapters.LoadCodeBook(path, values...)
	if err != nil {
		return nil, err
	}
	switch agency {
	case "police":
		return police.Agency{Kinds: book}, nil
	case "yot":
		return yot.Agency{Orders: book}, nil
	}
	return connexions.Agency{Statuses: book}, nil
}

func names() []string {
	var out []string
	for n := range agencies {
		out = append(out, n)
	}
	sort.Strings(out)
	return out
}

func env(name, def string) string {
	if v := os.Getenv(name); v != "" {
		return v
	}
	return def
}

func fail(err error) {
	fmt.Fprintln(os.Stderr, "ecm-adapter:", err)
	os.Exit(1)
}
