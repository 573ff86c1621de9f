package run

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"sync"
	"time"

	"go.uber.org/zap"
)

// MLLP framing (HL7 v2.5.1 Appendix C, Minimal Lower Layer Protocol): a
// message travels as <VT> message <FS><CR>.
const (
	mllpStart = 0x0b // VT, start block
	mllpEnd   = 0x1c // FS, end block
	mllpCR    = 0x0d // CR, after the end block
)

// MLLPSourceOptions configure the HL7 v2 MLLP listener.
type MLLPSourceOptions struct {
	// Addr is where to listen, e.g. 127.0.0.1:2575; port 0 picks one.
	Addr string
	// Format is the hint given to Agency.Open for every message; default hl7.
	Format string
	// Timeout is how long a message may take to be stored before it is
	// answered AR (send again); default 20s. An interface engine's own ACK
	// timeout should be longer.
	Timeout time.Duration
	// MaxMessage bounds a message's size; default 1 MiB. A longer one is
	// answered AE.
	MaxMessage int
	// Concurrency is how many messages (of different connections) are
	// processed at once; default 16.
	Concurrency int
	// DryRunRejects, if set, also gets each message's rejects (--dry-run).
	DryRunRejects io.Writer
	Metrics       *Metrics
	Logger        *zap.Logger
}

// mllpSource listens for HL7 v2 messages over MLLP and answers each with an
// HL7 acknowledgement once the runner is done with it:
//
//   - AA when every event the message maps to is in the broker (or, in a dry
//     run, printed). Parts of the message left out (a GP practice without a
//     contact beside a registration that went) are listed in ERR segments
//     with severity W.
//   - AE when the message is rejected: nothing of it could be mapped, or it
//     is not an HL7 message. The ERR segments say why. Sending it again will
//     not help; it needs mending.
//   - AR when it could not be processed now: the broker did not store its
//     events within Timeout, or the adapter is stopping. The engine sends it
//     again; the broker stores each event once, so that is harmless.
//
// Each connection carries one message at a time: the next frame is read once
// the last is answered. Bytes outside a frame (line noise, a keep-alive, an
// engine's stray newline) are skipped, and a frame cut short by a new start
// block is dropped unanswered, so neither costs the next message. Messages of
// different connections are processed at once (concurrentSource).
type mllpSource struct {
	o    MLLPSourceOptions
	log  *zap.Logger
	ln   net.Listener
	reqs chan *mllpExport

	ctx    context.Context // ends when the source closes
	cancel context.CancelFunc
	ready  chan struct{} // closed once listening
	mu     sync.Mutex
	conns  map[net.Conn]struct{}
	wg     sync.WaitGroup
}

type mllpExport struct {
	exp     *Export
	rejects bytes.Buffer
	done    chan Result
}

// NewMLLPSource returns the MLLP listener source.
func NewMLLPSource(o MLLPSourceOptions) *mllpSource {
	if o.Format == "" {
		o.Format = "hl7"
	}
	if o.Timeout <= 0 {
		o.Timeout = 20 * time.Second
	}
	if o.MaxMessage <= 0 {
		o.MaxMessage = 1 << 20
	}
	if o.Concurrency <= 0 {
		o.Concurrency = 16
	}
	if o.Logger == nil {
		o.Logger = zap.NewNop()
	}
	ctx, cancel := context.WithCancel(context.Background())
	return &mllpSource{o: o, log: o.Logger, reqs: make(chan *mllpExport), ctx: ctx, cancel: cancel,
		ready: make(chan struct{}), conns: map[net.Conn]struct{}{}}
}

// Addr is the address listened on; it waits for Connect.
func (s *mllpSource) Addr() string {
	<-s.ready
	return s.ln.Addr().String()
}

// Concurrency makes the runner process messages of several connections at once.
func (s *mllpSource) Concurrency() int { return s.o.Concurrency }

func (s *mllpSource) Connect(context.Context) error {
	ln, err := net.Listen("tcp", s.o.Addr)
	if err != nil {
		return err
	}
	s.ln = ln
	close(s.ready)
	s.wg.Add(1)
	go s.accept()
	s.log.Info("accepting HL7 v2 over MLLP", zap.String("addr", ln.Addr().String()))
	return nil
}

func (s *mllpSource) accept() {
	defer s.wg.Done()
	for {
		conn, err := s.ln.Accept()
		if err != nil {
			if s.ctx.Err() == nil && !errors.Is(err, net.ErrClosed) {
				s.log.Error("mllp listener stopped", zap.Error(err))
			}
			return
		}
		s.mu.Lock()
		if s.ctx.Err() != nil {
			s.mu.Unlock()
			conn.Close()
			return
		}
		s.conns[conn] = struct{}{}
		s.wg.Add(1)
		s.mu.Unlock()
		go s.serve(conn)
	}
}

// serve reads a connection's frames one at a time and answers each.
func (s *mllpSource) serve(conn net.Conn) {
	defer s.wg.Done()
	defer func() {
		s.mu.Lock()
		delete(s.conns, conn)
		s.mu.Unlock()
		conn.Close()
	}()
	peer := conn.RemoteAddr().String()
	log := s.log.With(zap.String("peer", peer))
	log.Info("mllp connection opened")
	fr := &frameReader{r: bufio.NewReaderSize(conn, 64<<10), max: s.o.MaxMessage}
	for n := 1; ; n++ {
		msg, err := fr.next()
		if fr.skipped > 0 {
			log.Warn("mllp bytes outside a frame skipped", zap.Int("bytes", fr.skipped), zap.Int("cut_frames", fr.cut))
			fr.skipped, fr.cut = 0, 0
		}
		if err != nil {
			if !errors.Is(err, io.EOF) && s.ctx.Err() == nil {
				log.Info("mllp connection closed", zap.Error(err))
			} else {
				log.Info("mllp connection closed")
			}
			return
		}
		ack := s.answer(msg, fmt.Sprintf("mllp %s #%d", peer, n), fr.tooBig, log)
		conn.SetWriteDeadline(time.Now().Add(30 * time.Second))
		if _, err := conn.Write(frame(ack)); err != nil {
			log.Warn("mllp acknowledgement not sent", zap.Error(err))
			return
		}
	}
}

// answer processes one message and returns its acknowledgement.
func (s *mllpSource) answer(msg []byte, name string, tooBig bool, log *zap.Logger) []byte {
	h, err := readMSH(msg)
	code, errs := ackError, []ackErr(nil)
	switch {
	case err != nil:
		errs = []ackErr{{reason: err.Error()}}
	case tooBig:
		errs = []ackErr{{reason: fmt.Sprintf("the message is longer than %d bytes", s.o.MaxMessage)}}
	case countMessages(msg) > 1:
		errs = []ackErr{{reason: fmt.Sprintf("the frame holds %d messages: MLLP carries one message a frame", countMessages(msg))}}
	default:
		code, errs = s.process(msg, name, log)
	}
	if m := s.o.Metrics; m != nil {
		m.acks.WithLabelValues(code).Inc()
	}
	if code != ackAccept || len(errs) > 0 {
		// The control id names the message to the engine's operators; the
		// reasons, which may quote the child's details, go only to the engine.
		log.Info("mllp message answered", zap.String("ack", code), zap.String("control_id", h.controlID),
			zap.Int("problems", len(errs)))
	}
	return buildACK(h, code, errs, time.Now())
}

// process hands one message to the runner and waits for what became of it.
func (s *mllpSource) process(msg []byte, name string, log *zap.Logger) (string, []ackErr) {
	ctx, cancel := context.WithTimeout(s.ctx, s.o.Timeout)
	defer cancel()
	q := &mllpExport{done: make(chan Result, 1)}
	var rejects io.Writer = &q.rejects
	if s.o.DryRunRejects != nil {
		rejects = io.MultiWriter(&q.rejects, prefixWriter{mu: &dryRunMu, w: s.o.DryRunRejects, prefix: name + ": "})
	}
	q.exp = &Export{Name: name, Hint: s.o.Format, Body: bytes.NewReader(msg), Rejects: rejects, ctx: ctx}
	select {
	case s.reqs <- q:
	case <-ctx.Done():
		reason := "the adapter is busy: no message could be taken in time, send it again"
		if s.ctx.Err() != nil {
			reason = "the adapter is stopping, send the message again"
		}
		return ackReject, []ackErr{{reason: reason}}
	}
	res := <-q.done
	var reasons []string
	for _, l := range strings.Split(strings.TrimSuffix(q.rejects.String(), "\n"), "\n") {
		if l == "" {
			continue
		}
		if _, rest, ok := strings.Cut(l, ": "); ok && (strings.HasPrefix(l, "line ") || strings.HasPrefix(l, "export: ")) {
			l = rest
		}
		reasons = append(reasons, l)
	}
	errs := make([]ackErr, 0, len(reasons))
	switch {
	case res.Incomplete != nil:
		log.Warn("mllp message not stored, answered AR", zap.Error(res.Incomplete))
		reason := "the broker did not store the message's events in time, send it again"
		if !errors.Is(res.Incomplete, context.Canceled) {
			reason = fmt.Sprintf("the adapter cannot store messages now (%v), send it again", res.Incomplete)
		}
		return ackReject, []ackErr{{reason: reason}}
	case res.Unreadable != nil || res.Rejected > 0 && res.Published == 0:
		for _, r := range reasons {
			errs = append(errs, ackErr{reason: r})
		}
		if len(errs) == 0 {
			errs = append(errs, ackErr{reason: "the message could not be read"})
		}
		return ackError, errs
	}
	for _, r := range reasons {
		errs = append(errs, ackErr{reason: r, warning: true})
	}
	return ackAccept, errs
}

func (s *mllpSource) Read(ctx context.Context) (*Export, AckFunc, error) {
	select {
	case q := <-s.reqs:
		return q.exp, func(_ context.Context, res Result) error {
			q.done <- res
			return nil
		}, nil
	case <-ctx.Done():
		return nil, nil, ctx.Err()
	case <-s.ctx.Done():
		return nil, nil, ErrEndOfInput
	}
}

// Close stops listening and closes every connection; a message in process
// has been answered by then (the runner acknowledges what it took before it
// closes its source), and one not yet taken is answered AR.
func (s *mllpSource) Close(ctx context.Context) error {
	s.mu.Lock()
	s.cancel()
	for c := range s.conns {
		// Unblock a read waiting for the next frame; an answer being
		// written still gets out (the write has its own deadline).
		c.SetReadDeadline(time.Now())
	}
	s.mu.Unlock()
	var err error
	if s.ln != nil {
		err = s.ln.Close()
	}
	done := make(chan struct{})
	go func() { s.wg.Wait(); close(done) }()
	select {
	case <-done:
	case <-ctx.Done():
		s.mu.Lock()
		for c := range s.conns {
			c.Close()
		}
		s.mu.Unlock()
		return ctx.Err()
	}
	return err
}

// frame wraps a message in MLLP's start and end blocks.
func frame(msg []byte) []byte {
	out := make([]byte, 0, len(msg)+3)
	out = append(out, mllpStart)
	out = append(out, msg...)
	return append(out, mllpEnd, mllpCR)
}

// countMessages counts the MSH segments of a frame's content.
func countMessages(msg []byte) int {
	n := 0
	for _, seg := range bytes.FieldsFunc(msg, func(r rune) bool { return r == '\r' || r == '\n' }) {
		if bytes.HasPrefix(seg, []byte("MSH")) {
			n++
		}
	}
	return n
}

// frameReader reads MLLP frames. It skips whatever stands between frames and
// drops a frame that a new start block interrupts (the sender gave up on it
// and started again), counting both in skipped and cut.
type frameReader struct {
	r       *bufio.Reader
	max     int
	buf     []byte
	skipped int  // bytes skipped since last reset
	cut     int  // frames dropped since last reset
	tooBig  bool // the last frame was longer than max: its first max bytes were kept
}

// next returns the content of the next whole frame. At the end of the
// stream it returns io.EOF, or io.ErrUnexpectedEOF when a frame was cut
// short (it is not answered: the sender sends it again).
func (f *frameReader) next() ([]byte, error) {
	f.tooBig = false
	// Up to the start block.
	for {
		c, err := f.r.ReadByte()
		if err != nil {
			return nil, err
		}
		if c == mllpStart {
			break
		}
		f.skipped++
	}
	f.buf = f.buf[:0]
	for {
		c, err := f.r.ReadByte()
		if errors.Is(err, io.EOF) {
			f.skipped += len(f.buf)
			return nil, io.ErrUnexpectedEOF
		}
		if err != nil {
			return nil, err
		}
		switch c {
		case mllpStart: // the frame so far was abandoned: start again
			f.skipped += len(f.buf) + 1
			f.cut++
			f.buf, f.tooBig = f.buf[:0], false
			continue
		case mllpEnd:
			if b, err := f.r.Peek(1); err == nil && b[0] == mllpCR {
				f.r.ReadByte()
			}
			return f.buf, nil
		}
		if len(f.buf) < f.max {
			f.buf = append(f.buf, c)
		} else {
			f.tooBig = true
		}
	}
}

var (
	_ Source           = (*mllpSource)(nil)
	_ concurrentSource = (*mllpSource)(nil)
)
