package demo

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/ecm-broker/ecm-broker/adapters"
	"github.com/ecm-broker/ecm-broker/adapters/connexions"
	"github.com/ecm-broker/ecm-broker/adapters/lea"
	"github.com/ecm-broker/ecm-broker/adapters/pct"
	"github.com/ecm-broker/ecm-broker/adapters/police"
	"github.com/ecm-broker/ecm-broker/adapters/run"
	"github.com/ecm-broker/ecm-broker/adapters/yot"
	"github.com/ecm-broker/ecm-broker/broker"
	"github.com/ecm-broker/ecm-broker/broker/store"
)

// sample is one agency's embedded sample exports.
type sample struct {
	agency adapters.Agency
	files  fs.FS
}

var samples = []sample{{pct.Agency{}, pct.Samples}, {lea.Agency{}, lea.Samples}, {connexions.Agency{}, connexions.Samples},
	{yot.Agency{}, yot.Samples}, {police.Agency{}, police.Samples}}

// feedAdapters runs each Leeds agency's adapter on its sample exports, as
// the agency's IT team would run ecm-adapter on a drop folder, publishing
// over NATS, and prints what each participant then received.
func feedAdapters(ctx context.Context, out io.Writer, b *broker.Broker) error {
	fmt.Fprintf(out, "== Agency exports through the adapters (ecm-adapter --agency X --area leeds, over NATS)\n")
	before, err := received(ctx, b)
	if err != nil {
		return err
	}
	tw := tabwriter.NewWriter(out, 4, 4, 2, ' ', 0)
	for _, s := range samples {
		dir, err := os.MkdirTemp("", "ecm-demo-"+s.agency.Name())
		if err != nil {
			return err
		}
		defer os.RemoveAll(dir)
		var files, names []string
		err = fs.WalkDir(s.files, ".", func(path string, d fs.DirEntry, err error) error {
			if err != nil || d.IsDir() || strings.Contains(path, ".golden.") {
				return err
			}
			data, err := fs.ReadFile(s.files, path)
			if err != nil {
				return err
			}
			dst := filepath.Join(dir, filepath.Base(path))
			files, names = append(files, dst), append(names, filepath.Base(path))
			return os.WriteFile(dst, data, 0o600)
		})
		if err != nil {
			return err
		}
		id := "leeds/" + s.agency.Name()
		err = run.Main(ctx, run.Config{Agency: s.agency, Area: "leeds", Files: files, Server: b.NATSURL(),
			User: id, Password: Token(id), Stdout: io.Discard, Stderr: io.Discard})
		if err != nil {
			return fmt.Errorf("%s adapter: %w", s.agency.Name(), err)
		}
		fmt.Fprintf(tw, "   %s\t%s\n", s.agency.Name(), strings.Join(names, ", "))
	}
	tw.Flush()
	if err := waitIdle(ctx, b); err != nil {
		return err
	}
	after, err := received(ctx, b)
	if err != nil {
		return err
	}
	fmt.Fprintln(out, "   then each participant received (new deliveries, by type and lawful basis):")
	ids := make([]string, 0, len(after))
	for id := range after {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	news := 0
	for _, id := range ids {
		var parts []string
		for k, n := range after[id] {
			if d := n - before[id][k]; d > 0 {
				parts = append(parts, fmt.Sprintf("%d %s", d, k))
			}
		}
		if len(parts) == 0 {
			continue
		}
		news++
		sort.Strings(parts)
		fmt.Fprintf(tw, "   %s\t%s\n", id, strings.Join(parts, ", "))
	}
	tw.Flush()
	if news == 0 {
		fmt.Fprintln(out, "   nothing new: these exports were published to this store before, and the broker stored each event once")
	}
	fmt.Fprintln(out)
	return nil
}

// received counts every participant's deliveries by "type (basis)".
func received(ctx context.Context, b *broker.Broker) (map[string]map[string]int, error) {
	out := map[string]map[string]int{}
	base := b.HTTPURL()
	for _, p := range Config().Participants {
		counts := map[string]int{}
		after := uint64(0)
		for {
			req, err := http.NewRequestWithContext(ctx, http.MethodGet, fmt.Sprintf("%s/v1/deliveries?after=%d&limit=1000", base, after), nil)
			if err != nil {
				return nil, err
			}
			req.Header.Set("Authorization", "Bearer "+Token(p.ID))
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				return nil, err
			}
			var page struct {
				Deliveries []struct {
					Basis string `json:"basis"`
					Event struct {
						Type string `json:"type"`
					} `json:"event"`
				} `json:"deliveries"`
				Next uint64 `json:"next"`
			}
			err = json.NewDecoder(resp.Body).Decode(&page)
			resp.Body.Close()
			if err != nil {
				return nil, err
			}
			for _, d := range page.Deliveries {
				counts[strings.TrimSuffix(strings.TrimPrefix(d.Event.Type, "uk.gov.ecm."), ".v1")+" ("+d.Basis+")"]++
			}
			if len(page.Deliveries) == 0 {
				break
			}
			after = page.Next
		}
		out[p.ID] = counts
	}
	return out, nil
}

// waitIdle waits until the broker has taken every ingested event through.
func waitIdle(ctx context.Context, b *broker.Broker) error {
	deadline := time.Now().Add(60 * time.Second)
	for time.Now().Before(deadline) {
		n, err := store.IngestPending(ctx, b.JetStream())
		if err != nil {
			return err
		}
		if n == 0 {
			return nil
		}
		time.Sleep(50 * time.Millisecond)
	}
	return fmt.Errorf("the broker did not finish the adapters' events within a minute")
}
