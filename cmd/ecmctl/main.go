// Command ecmctl is the operator CLI of ecm-broker. It speaks only the
// broker's HTTP API: participants read their deliveries and publish events
// with their own token; operators read the audit of a child and the dead
// letters with an operator token. Output is a readable table, or the
// broker's JSON with --json.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Getenv, os.Stdin, os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}
