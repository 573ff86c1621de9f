package run

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"sync"

	"github.com/cloudevents/sdk-go/v2/event"
)

// dryRunPublisher is --dry-run: it prints each event it is given as one JSON
// object per line (the structured form, json.Marshal of event.Event) and
// publishes nothing.
type dryRunPublisher struct {
	mu sync.Mutex
	w  *bufio.Writer
}

// NewDryRunPublisher prints events to w.
func NewDryRunPublisher(w io.Writer) Publisher { return &dryRunPublisher{w: bufio.NewWriter(w)} }

func (p *dryRunPublisher) Publish(_ context.Context, events []event.Event) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	refused := map[int]string{}
	for i, e := range events {
		b, err := json.Marshal(e)
		if err != nil {
			refused[i] = fmt.Sprintf("event %s cannot be encoded: %v", e.ID(), err)
			continue
		}
		p.w.Write(b)
		p.w.WriteByte('\n')
	}
	if err := p.w.Flush(); err != nil {
		return fmt.Errorf("writing events: %w", err)
	}
	if len(refused) > 0 {
		return &RejectedError{Reasons: refused}
	}
	return nil
}

func (p *dryRunPublisher) Close() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.w.Flush()
}

var _ Publisher = (*dryRunPublisher)(nil)
