package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/ecm-broker/ecm-broker/uin"
)

// defaultServer is where a broker started with its defaults listens.
const defaultServer = "http://127.0.0.1:8080"

// app is one invocation of ecmctl: where its input and output go and how the
// broker is reached. Commands get it with their arguments.
type app struct {
	stdin          io.Reader
	stdout, stderr io.Writer
	getenv         func(string) string
	client         *http.Client

	global, local conn // the common flags before and after the command name
	conn          conn // what the command uses: flags, then environment, then defaults
}

// conn holds the flags every command takes, before or after its name, as
// with the nats CLI.
type conn struct {
	server, token string
	json          bool
}

func (c *conn) register(fs *flag.FlagSet) {
	fs.StringVar(&c.server, "server", "", "broker `URL` (env ECM_URL, default "+defaultServer+")")
	fs.StringVar(&c.token, "token", "", "bearer `token`: a participant's for deliveries and publish, an operator's for audit and deadletters (env ECM_TOKEN)")
	fs.BoolVar(&c.json, "json", false, "print the broker's JSON instead of a table")
}

// command is one subcommand. run parses its own arguments with a.parse, so
// that "ecmctl help X" can be answered by running X with -h.
type command struct {
	name, summary string
	usage         string // synopsis, description and examples; the flags are added
	run           func(ctx context.Context, a *app, c *command, args []string) error
}

func commands() []*command {
	return []*command{deliveriesCmd, auditCmd, deadLettersCmd, publishCmd, decideCmd, healthCmd,
		verifyCmd, replayCmd, backfillCmd, impactCmd, sarCmd, disclosuresCmd, eraseCmd, // operations (verify.go ... erase.go)
		resolveCmd, resubmitCmd, sarReviewCmd, opsCmd, // the console's (triage.go, sarreview.go, ops.go)
		pushStatusCmd, pushRetryCmd, // push delivery to webhooks (push.go)
		policyMatrixCmd, policyTestCmd, policyCheckCmd, // offline, on a policy directory (policy.go)
		policyProposeCmd, policyProposalsCmd, policyProposalCmd, policyApproveCmd, policyRefuseCmd, // four eyes (policy_govern.go)
		policyShowCmd, policyDiffCmd, policyHistoryCmd} // the revisions the broker keeps
}

// subcommand names the commands of two words that follow a command of
// their own (deadletters, sar).
var subcommand = map[string]bool{"deadletters resolve": true, "deadletters resubmit": true, "sar review": true}

func lookup(name string) *command {
	for _, c := range commands() {
		if c.name == name {
			return c
		}
	}
	return nil
}

// run is ecmctl with its environment passed in, so tests can run it whole.
// It returns the exit status: 0, or 1 after a one-line message on stderr.
func run(ctx context.Context, args []string, getenv func(string) string, stdin io.Reader, stdout, stderr io.Writer) int {
	a := &app{stdin: stdin, stdout: stdout, stderr: stderr, getenv: getenv, client: &http.Client{Timeout: 60 * time.Second}}
	err := a.dispatch(ctx, args)
	if err == nil || errors.Is(err, flag.ErrHelp) {
		return 0
	}
	fmt.Fprintln(stderr, "ecmctl: "+oneLine(err.Error()))
	return 1
}

func (a *app) dispatch(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("ecmctl", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	a.global.register(fs)
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			a.mainUsage(a.stdout)
			return err
		}
		return usagef("%v (see ecmctl help)", err)
	}
	rest := fs.Args()
	if len(rest) == 0 {
		return usagef("no command given (see ecmctl help)")
	}
	name, rest := rest[0], rest[1:]
	if name == "audit" && len(rest) > 0 && rest[0] == "verify" { // operations: "audit verify" is its own command (verify.go)
		name, rest = "audit verify", rest[1:]
	}
	if (name == "policy" || name == "push") && len(rest) > 0 { // "policy matrix", "policy test", "policy check" (policy.go); "push status", "push retry" (push.go)
		name, rest = name+" "+rest[0], rest[1:]
	}
	if len(rest) > 0 && subcommand[name+" "+rest[0]] { // "deadletters resolve", "sar review" ...
		name, rest = name+" "+rest[0], rest[1:]
	}
	if name == "help" {
		if len(rest) > 1 && rest[0] == "audit" && rest[1] == "verify" {
			rest = append([]string{"audit verify"}, rest[2:]...)
		}
		if len(rest) > 1 && (rest[0] == "policy" || rest[0] == "push") {
			rest = append([]string{rest[0] + " " + rest[1]}, rest[2:]...)
		}
		if len(rest) > 1 && subcommand[rest[0]+" "+rest[1]] {
			rest = append([]string{rest[0] + " " + rest[1]}, rest[2:]...)
		}
		if len(rest) == 0 {
			a.mainUsage(a.stdout)
			return nil
		}
		c := lookup(rest[0])
		if c == nil {
			return usagef("no command %q (see ecmctl help)", rest[0])
		}
		return c.run(ctx, a, c, []string{"-h"})
	}
	c := lookup(name)
	if c == nil {
		return usagef("no command %q (see ecmctl help)", name)
	}
	return c.run(ctx, a, c, rest)
}

// flagSet starts a command's flags with the common ones.
func (a *app) flagSet(c *command) *flag.FlagSet {
	fs := flag.NewFlagSet("ecmctl "+c.name, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	a.local = conn{}
	a.local.register(fs)
	return fs
}

// parse parses a command's arguments, flags and positional arguments in any
// order ("--" ends the flags), answers -h with the command's help, and
// settles the connection settings.
func (a *app) parse(c *command, fs *flag.FlagSet, args []string) ([]string, error) {
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				a.commandUsage(a.stdout, c, fs)
				return nil, err
			}
			return nil, usagef("%s: %v (see ecmctl %s -h)", c.name, err, c.name)
		}
		rest := fs.Args()
		if len(rest) == 0 {
			break
		}
		if used := len(args) - len(rest); used > 0 && args[used-1] == "--" {
			pos = append(pos, rest...)
			break
		}
		pos = append(pos, rest[0])
		args = rest[1:]
	}
	if err := a.settle(); err != nil {
		return nil, err
	}
	return pos, nil
}

// settle decides the connection settings: a flag after the command, then
// one before it, then ECM_URL and ECM_TOKEN, then the defaults.
func (a *app) settle() error {
	server := firstOf(a.local.server, a.global.server, a.getenv("ECM_URL"), defaultServer)
	if !strings.Contains(server, "://") {
		server = "http://" + server
	}
	u, err := url.Parse(server)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return usagef("--server %q is not an http or https URL", server)
	}
	a.conn = conn{
		server: strings.TrimRight(server, "/"),
		token:  strings.TrimSpace(firstOf(a.local.token, a.global.token, a.getenv("ECM_TOKEN"))),
		json:   a.local.json || a.global.json,
	}
	return nil
}

func (a *app) needToken() error {
	if a.conn.token == "" {
		return errNoToken
	}
	return nil
}

func (a *app) mainUsage(w io.Writer) {
	fmt.Fprint(w, `ecmctl is the operator CLI of ecm-broker. It uses the broker's HTTP API.

Usage:
  ecmctl [--server URL] [--token T] [--json] COMMAND [flags] [args]

Commands:
`)
	t := newTable(w, "  ")
	for _, c := range commands() {
		t.Row(c.name, c.summary)
	}
	t.Row("help", "this help, or a command's: ecmctl help COMMAND")
	t.Flush()
	fmt.Fprint(w, `
Common flags, before or after the command:
  --server URL  broker URL (env ECM_URL, default `+defaultServer+`)
  --token T     bearer token (env ECM_TOKEN): a participant's for deliveries and
                publish, an operator's for audit and deadletters
  --json        print the broker's JSON instead of a table

Examples:
  export ECM_URL=http://broker.internal:8080 ECM_TOKEN=...
  ecmctl deliveries --participant leeds/pct --follow
  ecmctl audit --child 9434765919
  ecmctl publish events.jsonl

Run 'ecmctl COMMAND -h' for a command's flags and examples.
Errors are one line on stderr and exit status 1.
`)
}

func (a *app) commandUsage(w io.Writer, c *command, fs *flag.FlagSet) {
	synopsis, rest, _ := strings.Cut(strings.TrimSpace(c.usage), "\n")
	fmt.Fprintf(w, "Usage: ecmctl %s\n\n%s.\n\nFlags:\n", synopsis, strings.ToUpper(c.summary[:1])+c.summary[1:])
	fs.SetOutput(w)
	fs.PrintDefaults()
	fs.SetOutput(io.Discard)
	if rest = strings.TrimSpace(rest); rest != "" {
		fmt.Fprintf(w, "\n%s\n", rest)
	}
}

// oneLine keeps an error message to one line.
func oneLine(s string) string {
	return strings.Join(strings.Fields(s), " ")
}

// childArg parses the flags of a command that takes one child (--child UIN
// and nothing else), checks the UIN and that a token is set.
func (a *app) childArg(c *command, args []string) (string, error) {
	fs := a.flagSet(c)
	child := fs.String("child", "", "the child's `UIN` (10 digits)")
	pos, err := a.parse(c, fs, args)
	if err != nil {
		return "", err
	}
	if len(pos) > 0 {
		return "", usagef("%s takes no arguments, got %q (the UIN goes after --child)", c.name, pos[0])
	}
	if *child == "" {
		return "", usagef("%s needs --child UIN", c.name)
	}
	if err := uin.Check(*child); err != nil {
		return "", usagef("--child: %v", err)
	}
	return *child, a.needToken()
}
