package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"sort"
	"strings"
)

var healthCmd = &command{
	name:    "health",
	summary: "whether the broker is live (/healthz) and ready (/readyz), with each check",
	usage: `
health

Live means the HTTP API answers; ready means NATS is connected, a policy is
loaded and the audit is writable, so events are being delivered. The exit
status is 1 unless both hold. No token is needed.

Examples:
  ecmctl health
  ecmctl health --server http://broker.internal:8080 --json`,
	run: runHealth,
}

func runHealth(ctx context.Context, a *app, c *command, args []string) error {
	fs := a.flagSet(c)
	pos, err := a.parse(c, fs, args)
	if err != nil {
		return err
	}
	if len(pos) > 0 {
		return usagef("health takes no arguments, got %q", pos[0])
	}
	liveStatus, liveBody, err := a.do(ctx, http.MethodGet, "/healthz", nil, "", nil)
	if err != nil {
		return err
	}
	readyStatus, readyBody, err := a.do(ctx, http.MethodGet, "/readyz", nil, "", nil)
	if err != nil {
		return err
	}
	var ready struct {
		Ready  bool              `json:"ready"`
		Checks map[string]string `json:"checks"`
	}
	readyOK := json.Unmarshal(readyBody, &ready) == nil
	if a.conn.json {
		out, err := json.Marshal(map[string]json.RawMessage{"healthz": asJSON(liveBody), "readyz": asJSON(readyBody)})
		if err != nil {
			return err
		}
		if err := writeRaw(a.stdout, out); err != nil {
			return err
		}
	} else {
		t := newTable(a.stdout, "", "CHECK", "STATUS")
		t.Row("live", statusWord(liveStatus == http.StatusOK, liveStatus))
		t.Row("ready", statusWord(readyStatus == http.StatusOK && ready.Ready, readyStatus))
		names := make([]string, 0, len(ready.Checks))
		for name := range ready.Checks {
			names = append(names, name)
		}
		sort.Strings(names)
		for _, name := range names {
			t.Row("  "+name, ready.Checks[name])
		}
		if err := t.Flush(); err != nil {
			return err
		}
	}
	switch {
	case liveStatus != http.StatusOK:
		return fmt.Errorf("the broker is %w: /healthz answered %d: %s", errNotReady, liveStatus, brokerMessage(liveBody))
	case readyStatus != http.StatusOK || !readyOK || !ready.Ready:
		return fmt.Errorf("the broker is %w (%d): %s", errNotReady, readyStatus, failing(ready.Checks, readyBody))
	}
	return nil
}

func statusWord(ok bool, status int) string {
	if ok {
		return "ok"
	}
	return fmt.Sprintf("NO (%d %s)", status, http.StatusText(status))
}

// failing lists the checks that are not ok.
func failing(checks map[string]string, body []byte) string {
	var bad []string
	for name, v := range checks {
		if v != "ok" && name != "policy_revision" {
			bad = append(bad, name+": "+v)
		}
	}
	if len(bad) == 0 {
		return brokerMessage(body)
	}
	sort.Strings(bad)
	return strings.Join(bad, "; ")
}

// asJSON keeps a body that is JSON and quotes one that is not.
func asJSON(body []byte) json.RawMessage {
	if json.Valid(body) {
		return body
	}
	s, _ := json.Marshal(strings.TrimSpace(string(body)))
	return s
}
