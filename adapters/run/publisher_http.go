package run

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/cloudevents/sdk-go/v2/event"
	"go.uber.org/zap"

	"github.com/ecm-broker/ecm-broker/cenats"
)

// HTTPOptions configure the publisher that uses the broker's HTTP ingest.
type HTTPOptions struct {
	// URL is the broker's base URL, e.g. http://127.0.0.1:8080.
	URL string
	// Token is the participant's bearer token.
	Token string
	// BatchSize is the most events per request; default 500, at most 1000
	// (the broker's limit).
	BatchSize int
	// Client defaults to one with a 2 minute timeout.
	Client  *http.Client
	Backoff Backoff
	Logger  *zap.Logger
}

// Batch limits of the broker's POST /v1/events, with room to spare.
const (
	maxHTTPBatch      = 1000
	maxHTTPBatchBytes = 8 << 20
)

// httpPublisher posts events in batch mode (application/cloudevents-batch+json)
// to POST /v1/events. The broker answers each event on its own: 202 stored
// (outcome accepted or duplicate), 5xx not stored (sent again), another 4xx
// refused for good.
type httpPublisher struct {
	url, token string
	batch      int
	client     *http.Client
	backoff    Backoff
	log        *zap.Logger
}

// NewHTTPPublisher returns a publisher to the broker at o.URL.
func NewHTTPPublisher(o HTTPOptions) (Publisher, error) {
	if o.URL == "" {
		return nil, fmt.Errorf("broker url is required")
	}
	if o.Token == "" {
		return nil, fmt.Errorf("a participant token is required for the broker's HTTP ingest")
	}
	if o.BatchSize <= 0 {
		o.BatchSize = 500
	}
	o.BatchSize = min(o.BatchSize, maxHTTPBatch)
	if o.Client == nil {
		o.Client = &http.Client{Timeout: 2 * time.Minute}
	}
	if o.Logger == nil {
		o.Logger = zap.NewNop()
	}
	return &httpPublisher{url: strings.TrimSuffix(o.URL, "/") + "/v1/events", token: o.Token, batch: o.BatchSize,
		client: o.Client, backoff: o.Backoff.orDefault(), log: o.Logger}, nil
}

// ingestResult is the broker's answer for one event of a batch.
type ingestResult struct {
	Index    int    `json:"index"`
	ID       string `json:"id"`
	Status   int    `json:"status"`
	Outcome  string `json:"outcome"`
	Error    string `json:"error"`
	Problems []struct {
		Field  string `json:"field"`
		Reason string `json:"reason"`
	} `json:"problems"`
}

func (r ingestResult) reason() string {
	var b strings.Builder
	fmt.Fprintf(&b, "the broker refused event %s (%s", r.ID, r.Outcome)
	if r.Error != "" {
		b.WriteString(": " + r.Error)
	}
	b.WriteString(")")
	for i, p := range r.Problems {
		sep := "; "
		if i == 0 {
			sep = ": "
		}
		b.WriteString(sep + p.Field + ": " + p.Reason)
	}
	return b.String()
}

func (p *httpPublisher) Publish(ctx context.Context, events []event.Event) error {
	refused := map[int]string{}
	bodies := make([]json.RawMessage, len(events))
	var chunk []int
	size := 0
	for i, e := range events {
		b, err := json.Marshal(e)
		if err != nil {
			refused[i] = fmt.Sprintf("event %s cannot be encoded: %v", e.ID(), err)
			continue
		}
		if len(chunk) == p.batch || len(chunk) > 0 && size+len(b) > maxHTTPBatchBytes {
			if err := p.publishChunk(ctx, bodies, chunk, refused); err != nil {
				return err
			}
			chunk, size = nil, 0
		}
		bodies[i] = b
		chunk = append(chunk, i)
		size += len(b) + 1
	}
	if len(chunk) > 0 {
		if err := p.publishChunk(ctx, bodies, chunk, refused); err != nil {
			return err
		}
	}
	if len(refused) > 0 {
		return &RejectedError{Reasons: refused}
	}
	return nil
}

// publishChunk posts bodies[pending] until each is stored or refused.
func (p *httpPublisher) publishChunk(ctx context.Context, bodies []json.RawMessage, pending []int, refused map[int]string) error {
	for attempt := 0; ; attempt++ {
		retry, wait, err := p.post(ctx, bodies, pending, refused)
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if errors.Is(err, ErrUnauthorized) {
			return err
		}
		if len(retry) == 0 {
			return nil
		}
		pending = retry
		d := max(p.backoff.Delay(attempt), min(wait, p.backoff.Max))
		p.log.Warn("broker did not store every event, retrying", zap.Int("events", len(pending)),
			zap.Int("attempt", attempt+1), zap.Duration("wait", d), zap.Error(err))
		if err := sleep(ctx, d); err != nil {
			return err
		}
	}
}

// post sends one request and sorts its events: those to send again (with
// the broker's Retry-After, if any) and those refused (into refused).
func (p *httpPublisher) post(ctx context.Context, bodies []json.RawMessage, pending []int, refused map[int]string) (retry []int, wait time.Duration, err error) {
	var buf bytes.Buffer
	buf.WriteByte('[')
	for k, i := range pending {
		if k > 0 {
			buf.WriteByte(',')
		}
		buf.Write(bodies[i])
	}
	buf.WriteByte(']')
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, p.url, &buf)
	if err != nil {
		return nil, 0, err
	}
	req.Header.Set("Content-Type", cenats.ContentTypeBatch)
	req.Header.Set("Authorization", "Bearer "+p.token)
	resp, err := p.client.Do(req)
	if err != nil {
		return pending, 0, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 64<<20))
	if err != nil {
		return pending, 0, fmt.Errorf("reading the broker's answer: %w", err)
	}
	status := fmt.Errorf("broker answered %s", resp.Status)
	switch code := resp.StatusCode; {
	case code == http.StatusUnauthorized || code == http.StatusForbidden:
		return pending, 0, ErrUnauthorized
	case code == http.StatusTooManyRequests || code >= 500:
		secs, _ := strconv.Atoi(resp.Header.Get("Retry-After"))
		return pending, time.Duration(secs) * time.Second, status
	case code >= 400:
		var answer struct {
			Error string `json:"error"`
		}
		_ = json.Unmarshal(body, &answer)
		for _, i := range pending {
			refused[i] = fmt.Sprintf("the broker refused the batch (%s): %s", resp.Status, answer.Error)
		}
		return nil, 0, nil
	}
	var answer struct {
		Results []ingestResult `json:"results"`
	}
	if err := json.Unmarshal(body, &answer); err != nil {
		return pending, 0, fmt.Errorf("%w, not a batch answer: %v", status, err)
	}
	answered := make([]bool, len(pending))
	for _, r := range answer.Results {
		if r.Index < 0 || r.Index >= len(pending) || answered[r.Index] {
			continue
		}
		answered[r.Index] = true
		i := pending[r.Index]
		switch {
		case r.Status >= 200 && r.Status < 300:
		case r.Status == http.StatusTooManyRequests || r.Status >= 500:
			retry = append(retry, i)
			err = fmt.Errorf("event not stored: %s", r.Error)
		default:
			refused[i] = r.reason()
		}
	}
	for k, ok := range answered {
		if !ok {
			retry = append(retry, pending[k])
			err = fmt.Errorf("%w without an answer for every event", status)
		}
	}
	slices.Sort(retry)
	return retry, 0, err
}

// Close lets go of idle connections to the broker.
func (p *httpPublisher) Close() error {
	p.client.CloseIdleConnections()
	return nil
}

var _ Publisher = (*httpPublisher)(nil)
