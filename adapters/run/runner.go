package run

import (
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/cloudevents/sdk-go/v2/event"
	"go.uber.org/zap"

	"github.com/ecm-broker/ecm-broker/adapters"
)

// Options configure a Runner.
type Options struct {
	Agency    adapters.Agency
	Area      string
	Publisher Publisher
	// Logger gets progress and counts, never record content; nil for none.
	Logger *zap.Logger
	// Metrics, if set, counts records and events.
	Metrics *Metrics
	// BatchEvents is how many events go to Publish at once, and so how
	// often a file's progress is saved; default 1000.
	BatchEvents int
	// ProgressEvery is how often a long export logs its counts; default 10s.
	ProgressEvery time.Duration
}

// Runner reads exports from a Source, maps them with its Agency and
// publishes the events. One Runner serves one agency in one area.
type Runner struct {
	o      Options
	source string // the CloudEvents source every event must carry
	log    *zap.Logger
	totals struct{ exports, read, published, rejected, failed atomic.Int64 }
}

// New returns a Runner.
func New(o Options) (*Runner, error) {
	if o.Agency == nil || o.Publisher == nil || o.Area == "" {
		return nil, errors.New("run: an agency, an area and a publisher are required")
	}
	if o.BatchEvents <= 0 {
		o.BatchEvents = 1000
	}
	if o.ProgressEvery <= 0 {
		o.ProgressEvery = 10 * time.Second
	}
	log := o.Logger
	if log == nil {
		log = zap.NewNop()
	}
	log = log.With(zap.String("agency", o.Agency.Name()), zap.String("area", o.Area))
	if m := o.Metrics; m != nil { // so that the counters show 0 from the start
		m.read.WithLabelValues(o.Agency.Name())
		m.published.WithLabelValues(o.Agency.Name())
		m.rejected.WithLabelValues(o.Agency.Name())
	}
	return &Runner{o: o, source: "/" + o.Area + "/" + o.Agency.Name(), log: log}, nil
}

// Result is what became of one export.
type Result struct {
	// Read counts the records read, mapped or rejected, after Skipped.
	Read int `json:"read"`
	// Skipped counts the records at or before Export.Resume.
	Skipped int `json:"skipped,omitempty"`
	// Published counts the events the broker stored (or already had).
	Published int `json:"published"`
	// Rejected counts the records written to the rejects.
	Rejected int `json:"rejected"`
	// Unreadable says why the export could not be opened or read to its
	// end; the records before that point were processed.
	Unreadable error `json:"-"`
	// Incomplete says why the runner stopped before the end of the export
	// (it is stopping, the client went away, the broker refused the
	// credentials): the source must keep the export to read again.
	Incomplete error `json:"-"`
}

// Failed reports a finished export that yielded nothing: it could not be
// read, or every record in it was rejected.
func (r Result) Failed() bool {
	if r.Incomplete != nil {
		return false
	}
	return r.Unreadable != nil || r.Rejected > 0 && r.Read-r.Rejected+r.Skipped == 0
}

// Totals are a Runner's counts over every export so far.
type Totals struct {
	Exports, Read, Published, Rejected, Failed int64
}

// Totals returns the counts so far.
func (r *Runner) Totals() Totals {
	t := &r.totals
	return Totals{t.exports.Load(), t.read.Load(), t.published.Load(), t.rejected.Load(), t.failed.Load()}
}

// Run reads exports from src until it has no more (nil), ctx ends (nil) or
// the runner cannot go on (the error). Exports are processed one after
// another, in the order the source gives them, except from a source whose
// exports are independent of one another (concurrentSource).
func (r *Runner) Run(ctx context.Context, src Source) error {
	if err := src.Connect(ctx); err != nil {
		return fmt.Errorf("starting source: %w", err)
	}
	defer func() {
		cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
		defer cancel()
		if err := src.Close(cctx); err != nil {
			r.log.Warn("closing source", zap.Error(err))
		}
	}()
	if cs, ok := src.(concurrentSource); ok && cs.Concurrency() > 1 {
		return r.runConcurrent(ctx, src, cs.Concurrency())
	}
	for {
		exp, ack, err := src.Read(ctx)
		switch {
		case errors.Is(err, ErrEndOfInput):
			return nil
		case ctx.Err() != nil:
			return nil
		case err != nil:
			return fmt.Errorf("reading source: %w", err)
		}
		if err := r.settle(ctx, exp, ack, r.Process(ctx, exp)); err != nil {
			return err
		}
	}
}

// runConcurrent is Run with up to n exports in process at once. It returns
// only once every export it took is acknowledged.
func (r *Runner) runConcurrent(parent context.Context, src Source, n int) error {
	ctx, stop := context.WithCancelCause(parent)
	defer stop(nil)
	var wg sync.WaitGroup
	defer wg.Wait()
	slots := make(chan struct{}, n)
	stopped := func() error {
		if parent.Err() != nil {
			return nil
		}
		return context.Cause(ctx) // an export the runner cannot go on after
	}
	for {
		select {
		case slots <- struct{}{}:
		case <-ctx.Done():
			wg.Wait()
			return stopped()
		}
		exp, ack, err := src.Read(ctx)
		switch {
		case errors.Is(err, ErrEndOfInput):
			wg.Wait()
			return stopped()
		case ctx.Err() != nil:
			wg.Wait()
			return stopped()
		case err != nil:
			return fmt.Errorf("reading source: %w", err)
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer func() { <-slots }()
			if err := r.settle(ctx, exp, ack, r.Process(ctx, exp)); err != nil {
				stop(err)
			}
		}()
	}
}

// settle acknowledges an export to its source and returns the error the
// runner must stop for, if any: one that will not go away by itself, such
// as credentials the broker refuses.
func (r *Runner) settle(ctx context.Context, exp *Export, ack AckFunc, res Result) error {
	if err := ack(context.WithoutCancel(ctx), res); err != nil {
		r.log.Error("source could not settle export", zap.String("export", exp.Name), zap.Error(err))
	}
	switch {
	case res.Incomplete == nil, ctx.Err() != nil:
		return nil
	case errors.Is(res.Incomplete, context.Canceled):
		// That export's client went away, or its time ran out; others may come.
		return nil
	}
	return res.Incomplete
}

// batch is a run of records published together.
type batch struct {
	events     []event.Event
	lines      []int    // the line of each event's record
	names      []string // and its name, when it has one (adapters.Record.Name)
	rejects    []reject
	read       int
	skipped    int
	last       int   // the last line read, mapped or rejected
	unreadable error // set on the last batch when the export broke off
}

type reject struct {
	line   int
	name   string // the record's name, or "": adapters.Where
	reason string
}

// maxLoggedRejects bounds the per-record log lines of one export.
const maxLoggedRejects = 20

// Process reads one export to its end, publishing its events batch by batch
// and writing its rejects. It is safe to call concurrently.
func (r *Runner) Process(ctx context.Context, exp *Export) (res Result) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	if exp.ctx != nil {
		stop := context.AfterFunc(exp.ctx, cancel)
		defer stop()
	}
	log := r.log.With(zap.String("export", exp.Name))
	start := time.Now()
	defer func() { r.account(log, res, time.Since(start)) }()
	if exp.Resume > 0 {
		log.Info("resuming export", zap.Int("after_line", exp.Resume))
	}

	var rd adapters.Reader
	var err error
	if exp.interrupt != nil {
		stop := context.AfterFunc(ctx, exp.interrupt)
		rd, err = r.o.Agency.Open(exp.Hint, exp.Body, r.o.Area)
		stop()
	} else {
		rd, err = r.o.Agency.Open(exp.Hint, exp.Body, r.o.Area)
	}
	if err != nil {
		res.Unreadable = err
		if _, werr := fmt.Fprintf(exp.Rejects, "export: %v\n", err); werr != nil {
			res.Incomplete = fmt.Errorf("writing rejects: %w", werr)
		}
		return res
	}

	batches := make(chan *batch, 2) // map the next batches while one is published
	readerDone := make(chan struct{})
	go func() { // ends at the end of the export, or soon after ctx is cancelled
		defer close(readerDone)
		r.read(ctx, rd, exp.Resume, batches)
	}()
	if exp.interrupt != nil {
		defer func() {
			select {
			case <-readerDone:
			default:
				cancel()
				exp.interrupt()
				<-readerDone
			}
		}()
	}
	lastLog, logged := time.Now(), 0
	for b := range batches {
		if err := r.commit(ctx, exp, b, &res, log, &logged); err != nil {
			res.Incomplete = err
			return res
		}
		if time.Since(lastLog) >= r.o.ProgressEvery {
			lastLog = time.Now()
			log.Info("progress", zap.Int("line", b.last), zap.Int("read", res.Read),
				zap.Int("published", res.Published), zap.Int("rejected", res.Rejected))
		}
	}
	if err := ctx.Err(); err != nil {
		res.Incomplete = err
	}
	return res
}

// read maps records into batches until the end of the export.
func (r *Runner) read(ctx context.Context, rd adapters.Reader, resume int, out chan<- *batch) {
	defer close(out)
	b := &batch{}
	send := func() bool {
		select {
		case out <- b:
			b = &batch{}
			return true
		case <-ctx.Done():
			return false
		}
	}
	for ctx.Err() == nil {
		rec, err := rd.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		var re *adapters.RecordError
		if errors.As(err, &re) {
			if re.Line <= resume {
				b.skipped++
				continue
			}
			b.read++
			b.last = max(b.last, re.Line)
			b.rejects = append(b.rejects, reject{re.Line, re.Name, re.Reason})
			continue
		}
		if err != nil {
			b.unreadable = err
			break
		}
		if rec.Line <= resume {
			b.skipped++
			continue
		}
		b.read++
		b.last = max(b.last, rec.Line)
		if reason := r.check(rec); reason != "" {
			b.rejects = append(b.rejects, reject{rec.Line, rec.Name, reason})
			continue
		}
		for _, e := range rec.Events {
			b.events = append(b.events, e)
			b.lines = append(b.lines, rec.Line)
			b.names = append(b.names, rec.Name)
		}
		if len(b.events) >= r.o.BatchEvents && !send() {
			return
		}
	}
	send()
}

// check catches what the broker would refuse whatever the record held: an
// adapter that built an event wrong.
func (r *Runner) check(rec adapters.Record) string {
	for i, e := range rec.Events {
		if e.Source() != r.source {
			return fmt.Sprintf("adapter error: event %d has source %q, not %q", i+1, e.Source(), r.source)
		}
		if err := e.Validate(); err != nil {
			return fmt.Sprintf("adapter error: event %d is not a valid CloudEvent: %v", i+1, err)
		}
	}
	return ""
}

// commit publishes a batch, writes its rejects, counts it and saves the
// export's progress. An error means the batch is not stored.
func (r *Runner) commit(ctx context.Context, exp *Export, b *batch, res *Result, log *zap.Logger, logged *int) error {
	refused := 0
	if len(b.events) > 0 {
		err := r.o.Publisher.Publish(ctx, b.events)
		var rj *RejectedError
		switch {
		case errors.As(err, &rj):
			refused = len(rj.Reasons)
			b.rejects = append(b.rejects, refusals(rj, b)...)
			slices.SortStableFunc(b.rejects, func(x, y reject) int { return x.line - y.line })
		case err != nil:
			return err
		}
	}
	for _, rej := range b.rejects {
		where := adapters.Where(rej.line, rej.name)
		if _, err := fmt.Fprintf(exp.Rejects, "%s: %s\n", where, rej.reason); err != nil {
			return fmt.Errorf("writing rejects: %w", err)
		}
		if *logged < maxLoggedRejects {
			log.Info("record rejected", zap.Int("line", rej.line), zap.String("record", where))
		} else if *logged == maxLoggedRejects {
			log.Info("more records rejected, see the rejects")
		}
		*logged++
	}
	if b.unreadable != nil {
		res.Unreadable = fmt.Errorf("unreadable after line %d: %w", b.last, b.unreadable)
		if _, err := fmt.Fprintf(exp.Rejects, "export: %v\n", res.Unreadable); err != nil {
			return fmt.Errorf("writing rejects: %w", err)
		}
	}
	published := len(b.events) - refused
	res.Read += b.read
	res.Skipped += b.skipped
	res.Published += published
	res.Rejected += len(b.rejects)
	if m := r.o.Metrics; m != nil {
		agency := r.o.Agency.Name()
		m.read.WithLabelValues(agency).Add(float64(b.read))
		m.published.WithLabelValues(agency).Add(float64(published))
		m.rejected.WithLabelValues(agency).Add(float64(len(b.rejects)))
	}
	if exp.Checkpoint != nil && b.last > 0 {
		if err := exp.Checkpoint(b.last); err != nil {
			log.Warn("saving progress", zap.Int("line", b.last), zap.Error(err))
		}
	}
	return nil
}

// refusals turns the broker's refusals into one reject per record.
func refusals(rj *RejectedError, b *batch) []reject {
	byLine := map[int][]string{}
	names := map[int]string{}
	var lines []int
	idx := make([]int, 0, len(rj.Reasons))
	for i := range rj.Reasons {
		idx = append(idx, i)
	}
	slices.Sort(idx)
	for _, i := range idx {
		if i < 0 || i >= len(b.lines) {
			continue
		}
		line := b.lines[i]
		if _, ok := byLine[line]; !ok {
			lines = append(lines, line)
			names[line] = b.names[i]
		}
		byLine[line] = append(byLine[line], rj.Reasons[i])
	}
	out := make([]reject, 0, len(lines))
	for _, line := range lines {
		out = append(out, reject{line, names[line], strings.Join(byLine[line], "; ")})
	}
	return out
}

// account logs an export's outcome and adds it to the totals.
func (r *Runner) account(log *zap.Logger, res Result, took time.Duration) {
	t := &r.totals
	t.exports.Add(1)
	t.read.Add(int64(res.Read))
	t.published.Add(int64(res.Published))
	t.rejected.Add(int64(res.Rejected))
	fields := []zap.Field{zap.Int("read", res.Read), zap.Int("published", res.Published),
		zap.Int("rejected", res.Rejected), zap.Duration("took", took)}
	if res.Skipped > 0 {
		fields = append(fields, zap.Int("skipped", res.Skipped))
	}
	switch {
	case res.Incomplete != nil:
		// The error names no record content: a context, the broker, a disk.
		log.Warn("export interrupted, it will be read again", append(fields, zap.Error(res.Incomplete))...)
	case res.Unreadable != nil:
		t.failed.Add(1)
		// The reader's error may quote the export, so it goes to the rejects only.
		log.Error("export unreadable, reason in its rejects", fields...)
	case res.Failed():
		t.failed.Add(1)
		log.Error("every record of the export was rejected", fields...)
	default:
		log.Info("export done", fields...)
	}
}
