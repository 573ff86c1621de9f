package pct

import (
	"bufio"
	"bytes"
	"encoding/hex"
	"io"
	"strings"

	"github.com/ecm-broker/ecm-broker/adapters"
)

// hl7Reader reads an HL7 v2 export: segments end at \r, \n or \r\n, and a
// message is an MSH segment with the segments up to the next MSH. A record's
// Line is the line of its MSH segment, counting each segment as a line.
type hl7Reader struct {
	s         *bufio.Scanner
	area      string
	practices *Practices              // nil when none was given
	line      int                     // line of the last segment scanned
	pending   *rawSeg                 // an MSH read ahead: the first segment of the next message
	leftOut   []*adapters.RecordError // parts of the last message not mapped
}

type rawSeg struct {
	line int
	text string
}

func newHL7Reader(r io.Reader, area string, practices *Practices) *hl7Reader {
	s := bufio.NewScanner(r)
	s.Buffer(nil, 1<<20)
	s.Split(splitSegments)
	return &hl7Reader{s: s, area: area, practices: practices}
}

// Next returns a message's record, then one reject per part of it that could
// not be mapped (all with the message's line), as the police adapter does
// for the children of an incident.
func (r *hl7Reader) Next() (adapters.Record, error) {
	for {
		if len(r.leftOut) > 0 {
			re := r.leftOut[0]
			r.leftOut = r.leftOut[1:]
			return adapters.Record{}, re
		}
		segs, err := r.readMessage()
		if err != nil {
			return adapters.Record{}, err
		}
		m, reject := parseMessage(segs)
		if reject != nil {
			return adapters.Record{}, reject
		}
		rec, leftOut, err := mapMessage(m, r.area, r.practices)
		if err != nil {
			return adapters.Record{}, err
		}
		r.leftOut = leftOut
		if len(rec.Events) > 0 || len(leftOut) == 0 {
			return rec, nil
		}
	}
}

// readMessage returns the segments of the next message, or a stray segment
// standing before any MSH on its own (which parseMessage rejects).
func (r *hl7Reader) readMessage() ([]rawSeg, error) {
	var segs []rawSeg
	if r.pending != nil {
		segs, r.pending = append(segs, *r.pending), nil
	}
	for r.s.Scan() {
		r.line++
		// Interface engines may leave MLLP framing bytes in their files.
		text := strings.Trim(r.s.Text(), "\x0b\x1c")
		if strings.TrimSpace(text) == "" || isBatchSegment(text) {
			continue
		}
		seg := rawSeg{line: r.line, text: text}
		if strings.HasPrefix(text, "MSH") && len(segs) > 0 {
			r.pending = &seg
			return segs, nil
		}
		segs = append(segs, seg)
		if !strings.HasPrefix(segs[0].text, "MSH") {
			return segs, nil
		}
	}
	if err := r.s.Err(); err != nil {
		return nil, err
	}
	if len(segs) == 0 {
		return nil, io.EOF
	}
	return segs, nil
}

// isBatchSegment reports the batch and file envelope segments (FHS, BHS,
// BTS, FTS), which carry no patient data.
func isBatchSegment(text string) bool {
	for _, id := range []string{"FHS", "BHS", "BTS", "FTS"} {
		if strings.HasPrefix(text, id) {
			return true
		}
	}
	return false
}

// splitSegments is a bufio.SplitFunc: a segment ends at \r, \n or \r\n.
func splitSegments(data []byte, atEOF bool) (int, []byte, error) {
	i := bytes.IndexAny(data, "\r\n")
	switch {
	case i < 0 && atEOF && len(data) > 0:
		return len(data), data, nil
	case i < 0:
		return 0, nil, nil
	case data[i] == '\r' && i+1 == len(data) && !atEOF:
		return 0, nil, nil // \r\n may be split across reads
	case data[i] == '\r' && i+1 < len(data) && data[i+1] == '\n':
		return i + 2, data[:i], nil
	}
	return i + 1, data[:i], nil
}

// message is one parsed HL7 message. Fields are raw: component and escape
// handling happens when a value is read with comp.
type message struct {
	line int
	segs []segment
	delims
}

// segment holds its fields by HL7 number: fields[0] is the segment id and,
// for MSH, fields[1] the field separator, so that fields[n] is always SEG-n.
type segment struct {
	fields []string
}

// delims are a message's separators and escape character, from MSH-1 and MSH-2.
type delims struct{ field, component, repetition, escape, subcomponent byte }

func parseMessage(raw []rawSeg) (*message, *adapters.RecordError) {
	first := raw[0]
	if !strings.HasPrefix(first.text, "MSH") {
		return nil, adapters.Rejectf(first.line, "segment %s is outside a message: no MSH segment before it", quote(first.text[:min(3, len(first.text))]))
	}
	// MSH|^~\&|...: MSH-1 is the character after MSH, MSH-2 the next four.
	if len(first.text) < 8 {
		return nil, adapters.Rejectf(first.line, "MSH segment is too short to hold its delimiters")
	}
	d := delims{field: first.text[3], component: first.text[4], repetition: first.text[5], escape: first.text[6], subcomponent: first.text[7]}
	if !allDifferent(string([]byte{d.field, d.component, d.repetition, d.escape, d.subcomponent})) {
		return nil, adapters.Rejectf(first.line, "MSH-1 and MSH-2 delimiters must be five different characters")
	}
	m := &message{line: first.line, delims: d}
	for i, s := range raw {
		f := strings.Split(s.text, string(d.field))
		if i == 0 {
			f = append([]string{"MSH", string(d.field)}, f[1:]...)
		}
		m.segs = append(m.segs, segment{fields: f})
	}
	return m, nil
}

func allDifferent(s string) bool {
	for i := range s {
		if strings.IndexByte(s[i+1:], s[i]) >= 0 {
			return false
		}
	}
	return true
}

// segment returns the first segment with the given id, or nil.
func (m *message) segment(id string) *segment {
	for i := range m.segs {
		if m.segs[i].fields[0] == id {
			return &m.segs[i]
		}
	}
	return nil
}

// field is SEG-n raw, "" when the segment or field is absent.
func (s *segment) field(n int) string {
	if s == nil || n >= len(s.fields) {
		return ""
	}
	return s.fields[n]
}

// reps splits a raw field into its repetitions.
func (m *message) reps(field string) []string {
	if field == "" {
		return nil
	}
	return strings.Split(field, string(m.repetition))
}

// comp is component n (1-based) of a raw field or repetition: its first
// subcomponent, unescaped and trimmed. HL7's explicit null "" reads as empty.
func (m *message) comp(field string, n int) string {
	cs := strings.Split(field, string(m.component))
	if n > len(cs) {
		return ""
	}
	v, _, _ := strings.Cut(cs[n-1], string(m.subcomponent))
	if v == `""` {
		return ""
	}
	return strings.TrimSpace(m.unescape(v))
}

// unescape replaces HL7 escape sequences (\F\ \S\ \T\ \R\ \E\, \Xhh..\) with
// the text they stand for. Formatting commands (\.br\ and the like) become a
// space; highlighting and character set switches are dropped. Anything else,
// including an unterminated sequence, stays as written.
func (d delims) unescape(s string) string {
	var b strings.Builder
	for {
		i := strings.IndexByte(s, d.escape)
		if i < 0 {
			break
		}
		j := strings.IndexByte(s[i+1:], d.escape)
		if j < 0 {
			break
		}
		b.WriteString(s[:i])
		seq := s[i+1 : i+1+j]
		s = s[i+2+j:]
		switch {
		case seq == "F":
			b.WriteByte(d.field)
		case seq == "S":
			b.WriteByte(d.component)
		case seq == "T":
			b.WriteByte(d.subcomponent)
		case seq == "R":
			b.WriteByte(d.repetition)
		case seq == "E":
			b.WriteByte(d.escape)
		case strings.HasPrefix(seq, "."):
			b.WriteByte(' ')
		case seq == "H" || seq == "N" || strings.HasPrefix(seq, "C") || strings.HasPrefix(seq, "M"):
		case strings.HasPrefix(seq, "X") && isHex(seq[1:]):
			x, _ := hex.DecodeString(seq[1:])
			b.Write(x)
		default:
			b.WriteByte(d.escape)
			b.WriteString(seq)
			b.WriteByte(d.escape)
		}
	}
	b.WriteString(s)
	return b.String()
}

func isHex(s string) bool {
	_, err := hex.DecodeString(s)
	return s != "" && err == nil
}
