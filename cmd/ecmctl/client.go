package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
)

// maxResponse bounds what is read of one answer: a page of 1000 deliveries
// of events of at most a few hundred kilobytes each.
const maxResponse = 256 << 20

// apiError is an HTTP answer the command cannot use, with the broker's own
// "error" message when it gave one.
type apiError struct {
	Method, Path string
	Status       int
	Message      string
}

func (e *apiError) Error() string {
	return fmt.Sprintf("%s %s: %d %s: %s", e.Method, e.Path, e.Status, http.StatusText(e.Status), e.Message)
}

// statusOf is the HTTP status of an apiError, or 0.
func statusOf(err error) int {
	var ae *apiError
	if errors.As(err, &ae) {
		return ae.Status
	}
	return 0
}

// do sends one request to the broker and reads the whole answer, whatever
// its status. Only a broker that cannot be reached is an error.
func (a *app) do(ctx context.Context, method, path string, q url.Values, contentType string, body []byte) (int, []byte, error) {
	target := a.conn.server + path
	if len(q) > 0 {
		target += "?" + q.Encode()
	}
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, target, rd)
	if err != nil {
		return 0, nil, fmt.Errorf("%s %s: %w", method, path, err)
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	req.Header.Set("Accept", "application/json")
	if a.conn.token != "" {
		req.Header.Set("Authorization", "Bearer "+a.conn.token)
	}
	resp, err := a.client.Do(req)
	if err != nil {
		if ctx.Err() != nil {
			return 0, nil, ctx.Err()
		}
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		return 0, nil, fmt.Errorf("cannot reach the broker at %s: %w", a.conn.server, err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, maxResponse))
	if err != nil {
		if ctx.Err() != nil {
			return 0, nil, ctx.Err()
		}
		return 0, nil, fmt.Errorf("%s %s: reading the answer: %w", method, path, err)
	}
	return resp.StatusCode, data, nil
}

// getJSON GETs path and decodes a 200 answer into out; any other status is
// an apiError. It returns the answer as received, for --json.
func (a *app) getJSON(ctx context.Context, path string, q url.Values, out any) ([]byte, error) {
	status, data, err := a.do(ctx, http.MethodGet, path, q, "", nil)
	if err != nil {
		return nil, err
	}
	if status != http.StatusOK {
		return nil, newAPIError(http.MethodGet, path, status, data)
	}
	if err := json.Unmarshal(data, out); err != nil {
		return nil, fmt.Errorf("GET %s: the answer is not the expected JSON: %w", path, err)
	}
	return data, nil
}

func newAPIError(method, path string, status int, body []byte) *apiError {
	return &apiError{Method: method, Path: path, Status: status, Message: brokerMessage(body)}
}

// brokerMessage is the "error" field of a broker's answer, or the start of
// whatever else came back.
func brokerMessage(body []byte) string {
	var e struct {
		Error string `json:"error"`
	}
	if json.Unmarshal(body, &e) == nil && e.Error != "" {
		return e.Error
	}
	s := strings.TrimSpace(string(body))
	if len(s) > 200 {
		s = s[:200] + "..."
	}
	if s == "" {
		s = "no message"
	}
	return s
}

// tokenError explains a 401: the token is not the kind the command needs
// (kind: "participant" or "operator"); want says whose token to give.
// It keeps the apiError for errors.As.
func tokenError(err error, kind, want string) error {
	var ae *apiError
	if !errors.As(err, &ae) || ae.Status != http.StatusUnauthorized {
		return err
	}
	return &refusedToken{apiError: ae, kind: kind, want: want}
}

type refusedToken struct {
	*apiError
	kind, want string
}

func (e *refusedToken) Error() string {
	return fmt.Sprintf("the token is not %s token (401: %s); give %s with --token or ECM_TOKEN", e.kind, e.Message, e.want)
}

func (e *refusedToken) Unwrap() error { return e.apiError }

// writeRaw prints an answer for --json, ending in one newline.
func writeRaw(w io.Writer, data []byte) error {
	data = bytes.TrimRight(data, "\n")
	_, err := fmt.Fprintf(w, "%s\n", data)
	return err
}
