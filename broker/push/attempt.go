package push

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"github.com/ecm-broker/ecm-broker/broker/config"
	"github.com/ecm-broker/ecm-broker/cenats"
)

// Standard Webhooks headers (https://www.standardwebhooks.com, "Signature
// scheme").
const (
	HeaderID        = "webhook-id"
	HeaderTimestamp = "webhook-timestamp"
	HeaderSignature = "webhook-signature"
)

// result is what one attempt came to.
type result struct {
	ok      bool
	outcome string // the metric's label: delivered, http_error, timeout, unreachable
	text    string // in words, for the dead letter and status
	at      time.Time
	took    time.Duration
}

// attempt POSTs one copy to the participant's webhook. The body is the copy
// as stored: a structured-mode CloudEvent. A signature is made afresh for
// each attempt (its timestamp is the attempt's), under the same webhook-id.
func (p *Pusher) attempt(part config.Participant, id string, body []byte) result {
	start := time.Now()
	res := result{at: start.UTC()}
	ctx, cancel := context.WithTimeout(context.Background(), p.cfg.Push.Timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, part.Push.URL, bytes.NewReader(body))
	if err != nil {
		res.outcome, res.text = "unreachable", "the webhook URL cannot be used: "+err.Error()
		return res
	}
	ts := start.Unix()
	req.Header.Set("Content-Type", cenats.ContentTypeStructured)
	req.Header.Set("User-Agent", "ecm-broker")
	req.Header.Set(HeaderID, id)
	req.Header.Set(HeaderTimestamp, strconv.FormatInt(ts, 10))
	req.Header.Set(HeaderSignature, Sign(part.Push.Key(), id, ts, body))
	resp, err := p.client.Do(req)
	if err == nil {
		// Read (some of) the answer so the connection is kept, within the
		// same timeout; what it says is not kept (it may quote the copy).
		_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
		resp.Body.Close()
	}
	res.took = time.Since(start)
	var ne net.Error
	switch {
	case err == nil && resp.StatusCode >= 200 && resp.StatusCode < 300:
		res.ok, res.outcome, res.text = true, "delivered", resp.Status
	case err == nil:
		res.outcome, res.text = "http_error", "answered HTTP "+resp.Status+" (only a 2xx is a delivery)"
	case errors.Is(err, context.DeadlineExceeded) || errors.As(err, &ne) && ne.Timeout():
		res.outcome, res.text = "timeout", fmt.Sprintf("no answer within push.timeout (%s)", p.cfg.Push.Timeout)
	default:
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		res.outcome, res.text = "unreachable", "could not be reached: "+err.Error()
	}
	return res
}

// Sign is the Standard Webhooks signature of body: "v1," and the base64 of
// the HMAC-SHA256, keyed with the decoded secret, of "id.timestamp.body".
func Sign(key []byte, id string, ts int64, body []byte) string {
	mac := hmac.New(sha256.New, key)
	mac.Write([]byte(id + "." + strconv.FormatInt(ts, 10) + "."))
	mac.Write(body)
	return "v1," + base64.StdEncoding.EncodeToString(mac.Sum(nil))
}
