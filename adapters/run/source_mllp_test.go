package run

import (
	"bufio"
	"context"
	"errors"
	"io"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/cloudevents/sdk-go/v2/event"
)

func TestFrameReader(t *testing.T) {
	const vt, fs, cr = "\x0b", "\x1c", "\r"
	tests := []struct {
		name    string
		stream  string
		frames  []string
		end     error
		skipped int
		cut     int
	}{
		{"one", vt + "MSH|a" + fs + cr, []string{"MSH|a"}, io.EOF, 0, 0},
		{"two back to back", vt + "A" + fs + cr + vt + "B" + fs + cr, []string{"A", "B"}, io.EOF, 0, 0},
		{"garbage before and between", "hello\r\n" + vt + "A" + fs + cr + "\r\n\x00junk" + vt + "B" + fs + cr, []string{"A", "B"}, io.EOF, 7 + 7, 0},
		{"half-sent frame then a whole one", vt + "MSH|cut sho" + vt + "MSH|whole" + fs + cr, []string{"MSH|whole"}, io.EOF, 12, 1},
		{"end block without CR", vt + "A" + fs + vt + "B" + fs + cr, []string{"A", "B"}, io.EOF, 0, 0},
		{"stream ends inside a frame", vt + "A" + fs + cr + vt + "MSH|half", []string{"A"}, io.ErrUnexpectedEOF, 8, 0},
		{"segments keep their CRs", vt + "MSH|a\rPID|1\r" + fs + cr, []string{"MSH|a\rPID|1\r"}, io.EOF, 0, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := &frameReader{r: bufio.NewReader(strings.NewReader(tt.stream)), max: 1 << 20}
			var got []string
			var err error
			for {
				var b []byte
				if b, err = f.next(); err != nil {
					break
				}
				got = append(got, string(b))
			}
			if strings.Join(got, "|") != strings.Join(tt.frames, "|") || !errors.Is(err, tt.end) {
				t.Errorf("frames %q, end %v; want %q, %v", got, err, tt.frames, tt.end)
			}
			if f.skipped != tt.skipped || f.cut != tt.cut {
				t.Errorf("skipped %d bytes and cut %d frames, want %d and %d", f.skipped, f.cut, tt.skipped, tt.cut)
			}
		})
	}
}

func TestFrameReaderTooBig(t *testing.T) {
	f := &frameReader{r: bufio.NewReader(strings.NewReader("\x0bMSH|0123456789\x1c\r\x0bMSH|ok\x1c\r")), max: 8}
	b, err := f.next()
	if err != nil || string(b) != "MSH|0123" || !f.tooBig {
		t.Fatalf("next() = %q, %v, tooBig %v; want the first 8 bytes, too big", b, err, f.tooBig)
	}
	if b, err = f.next(); err != nil || string(b) != "MSH|ok" || f.tooBig {
		t.Fatalf("the next frame = %q, %v, tooBig %v", b, err, f.tooBig)
	}
}

var ackTime = time.Date(2025, 3, 3, 9, 15, 3, 0, time.FixedZone("", 0))

func TestBuildACK(t *testing.T) {
	ackIDs.Store(0)
	tests := []struct {
		name string
		msg  string
		code string
		errs []ackErr
		want []string // the ACK's segments, MSH-10 written as ID
	}{
		{
			name: "accepted, HL7 2.4",
			msg:  "MSH|^~\\&|GPSYS|B86642|ECM|LEEDS|20250303091502||ADT^A04^ADT_A01|ITK-1|P|2.4\rPID|1",
			code: ackAccept,
			want: []string{"MSH|^~\\&|ECM|LEEDS|GPSYS|B86642|20250303091503+0000||ACK^A04^ACK|ID|P|2.4", "MSA|AA|ITK-1|"},
		},
		{
			name: "rejected, HL7 2.5: ERR-2 location, ERR-3 code, ERR-4 severity, ERR-8 reason escaped",
			msg:  "MSH|^~\\&|PAS|RR8|ECM|LEEDS|20250303091502||ADT^A08^ADT_A01|PAS-9|T|2.5",
			code: ackError,
			errs: []ackErr{{reason: `index.child.registered left out: PID-7 date of birth "2021|13" is not a date`}},
			want: []string{"MSH|^~\\&|ECM|LEEDS|PAS|RR8|20250303091503+0000||ACK^A08^ACK|ID|T|2.5",
				`MSA|AE|PAS-9|index.child.registered left out: PID-7 date of birth "2021\F\13" is not a date`,
				`ERR||PID^1^7|102^Data type error^HL70357|E||||index.child.registered left out: PID-7 date of birth "2021\F\13" is not a date`},
		},
		{
			name: "accepted with a part left out, HL7 2.3: ERR-1, no structure in MSH-9",
			msg:  "MSH|^~\\&|PAS|RR8|ECM|LEEDS|20250303091502||ADT^A04|PAS-10|P|2.3",
			code: ackAccept,
			errs: []ackErr{{reason: "index.gp.recorded left out: practice B86999 has no contact", warning: true}},
			want: []string{"MSH|^~\\&|ECM|LEEDS|PAS|RR8|20250303091503+0000||ACK^A04|ID|P|2.3",
				"MSA|AA|PAS-10|index.gp.recorded left out: practice B86999 has no contact",
				"ERR|^^^101&index.gp.recorded left out: practice B86999 has no contact&HL70357"},
		},
		{
			name: "other delimiters are recoded, a standard one in the data escaped",
			msg:  "MSH#$*/%#APP$NS#FAC###20250303091502##ADT$A31#C^1#P#2.5.1",
			code: ackReject,
			errs: []ackErr{{reason: "the broker did not store the message's events in time, send it again"}},
			want: []string{"MSH|^~\\&|||APP^NS|FAC|20250303091503+0000||ACK^A31^ACK|ID|P|2.5.1",
				"MSA|AR|C\\S\\1|the broker did not store the message's events in time, send it again",
				"ERR|||207^Application internal error^HL70357|E||||the broker did not store the message's events in time, send it again"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h, err := readMSH([]byte(tt.msg))
			if err != nil {
				t.Fatal(err)
			}
			got := strings.Split(strings.TrimSuffix(string(buildACK(h, tt.code, tt.errs, ackTime)), "\r"), "\r")
			if len(got) > 0 {
				f := strings.Split(got[0], "|")
				if len(f) > 9 && strings.HasPrefix(f[9], ackPrefix) {
					f[9] = "ID"
				}
				got[0] = strings.Join(f, "|")
			}
			if strings.Join(got, "\n") != strings.Join(tt.want, "\n") {
				t.Errorf("ACK\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(tt.want, "\n"))
			}
		})
	}
	if _, err := readMSH([]byte("PID|1||x")); !errors.Is(err, errNotHL7) {
		t.Errorf("readMSH of a PID = %v, want errNotHL7", err)
	}
}

// refusingPublisher is a broker that refuses the adapter's credentials.
type refusingPublisher struct{}

func (refusingPublisher) Publish(context.Context, []event.Event) error { return ErrUnauthorized }
func (refusingPublisher) Close() error                                 { return nil }

// A refusal that will not go away stops the runner, as with other sources;
// the message in hand is answered AR first, so the engine keeps it.
func TestMLLPStopsWhenRefused(t *testing.T) {
	r := newRunner(t, refusingPublisher{}, 0)
	src := NewMLLPSource(MLLPSourceOptions{Addr: "127.0.0.1:0", Format: "fake", Logger: testLogger(t)})
	done := make(chan error, 1)
	go func() { done <- r.Run(context.Background(), src) }()
	conn, err := net.Dial("tcp", src.Addr())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	conn.Write([]byte("\x0bMSH|^~\\&|A|B|C|D|20250303091502||ADT^A04|X-1|P|2.4\x1c\r"))
	conn.SetReadDeadline(time.Now().Add(10 * time.Second))
	b, err := bufio.NewReader(conn).ReadString(0x1c)
	if err != nil || !strings.Contains(b, "ERR|^^^207&the adapter cannot store messages now (the broker refused the adapter's credentials), send it again") {
		t.Fatalf("answer %q, %v; want AR", b, err)
	}
	select {
	case err := <-done:
		if !errors.Is(err, ErrUnauthorized) {
			t.Errorf("Run = %v, want ErrUnauthorized", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Run did not stop")
	}
}
