package run

import (
	"bytes"
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"sync/atomic"
	"time"
)

// HL7 v2 acknowledgement codes (MSA-1, original mode; HL7 table 0008).
const (
	// ackAccept: every event of the message is stored (or printed, in a dry
	// run); parts left out, if any, are listed as warnings.
	ackAccept = "AA"
	// ackError: the message is rejected; sending it again will not help.
	ackError = "AE"
	// ackReject: the message could not be processed now (the broker did not
	// answer in time, the adapter is stopping); the sender sends it again.
	ackReject = "AR"
)

// mshHeader is what an acknowledgement repeats of the message it answers,
// recoded to the standard delimiters |^~\&.
type mshHeader struct {
	sendingApp, sendingFacility     string // MSH-3, MSH-4
	receivingApp, receivingFacility string // MSH-5, MSH-6
	trigger                         string // MSH-9.2
	controlID                       string // MSH-10
	processingID                    string // MSH-11
	version                         string // MSH-12
}

// errNotHL7 is the reason given for a frame that does not start with MSH.
var errNotHL7 = errors.New("the frame does not hold an HL7 v2 message: it does not start with an MSH segment")

// readMSH reads the MSH segment that starts msg.
func readMSH(msg []byte) (mshHeader, error) {
	seg := msg
	if i := bytes.IndexAny(seg, "\r\n"); i >= 0 {
		seg = seg[:i]
	}
	if !bytes.HasPrefix(seg, []byte("MSH")) || len(seg) < 8 {
		return mshHeader{}, errNotHL7
	}
	fs, cs, rs, es, ss := seg[3], seg[4], seg[5], seg[6], seg[7]
	recode := func(raw string) string {
		var b strings.Builder
		for i := 0; i < len(raw); i++ {
			switch c := raw[i]; c {
			case cs:
				b.WriteByte('^')
			case rs:
				b.WriteByte('~')
			case es:
				b.WriteByte('\\')
			case ss:
				b.WriteByte('&')
			case '|', '^', '~', '\\', '&', '\r', '\n':
				b.WriteString(hl7Escape(string(rune(c))))
			default:
				b.WriteByte(c)
			}
		}
		return b.String()
	}
	// fields[n] is MSH-(n+1): MSH-1 is the field separator itself.
	fields := strings.Split(string(seg), string(fs))
	field := func(n int) string {
		if n-1 >= len(fields) {
			return ""
		}
		return recode(fields[n-1])
	}
	first := func(n int) string { v, _, _ := strings.Cut(field(n), "^"); return v }
	comp := func(v string, n int) string {
		parts := strings.Split(v, "^")
		if n > len(parts) {
			return ""
		}
		return parts[n-1]
	}
	return mshHeader{
		sendingApp: field(3), sendingFacility: field(4),
		receivingApp: field(5), receivingFacility: field(6),
		trigger:      comp(field(9), 2),
		controlID:    first(10),
		processingID: first(11),
		version:      first(12),
	}, nil
}

// ackError is one problem an acknowledgement lists in an ERR segment.
type ackErr struct {
	reason  string
	warning bool // a part left out of a message that was accepted
}

// ackIDs numbers this process's acknowledgements (MSH-10 of each ACK).
var ackIDs atomic.Uint64

// ackPrefix makes ACK control ids of different runs differ.
var ackPrefix = "ECM" + strconv.FormatInt(time.Now().Unix()%(36*36*36*36*36*36), 36)

// buildACK is the HL7 acknowledgement (original mode) of the message with
// header h: MSH, MSA with code and the message's control id, and one ERR per
// problem. The ERR segment takes the form of the message's version: HL7 2.5
// and later give the location in ERR-2, the code in ERR-3, the severity in
// ERR-4 and the reason in ERR-8; 2.3 and 2.4 give location and code in ERR-1,
// the reason as the code's text. MSA-3 carries the first reason (80
// characters) for engines that show only that.
func buildACK(h mshHeader, code string, errs []ackErr, now time.Time) []byte {
	version := h.version
	if version == "" {
		version = "2.4"
	}
	processing := h.processingID
	if processing == "" {
		processing = "P"
	}
	msgType := "ACK"
	if h.trigger != "" {
		msgType += "^" + h.trigger
		if version != "2.3" {
			msgType += "^ACK"
		}
	}
	var b bytes.Buffer
	fmt.Fprintf(&b, "MSH|^~\\&|%s|%s|%s|%s|%s||%s|%s%d|%s|%s\r",
		h.receivingApp, h.receivingFacility, h.sendingApp, h.sendingFacility,
		now.Format("20060102150405-0700"), msgType, ackPrefix, ackIDs.Add(1), processing, version)
	text := ""
	if len(errs) > 0 {
		text = hl7Escape(clipRunes(errs[0].reason, 80))
	}
	fmt.Fprintf(&b, "MSA|%s|%s|%s\r", code, h.controlID, text)
	v25 := !strings.HasPrefix(version, "2.1") && !strings.HasPrefix(version, "2.2") &&
		!strings.HasPrefix(version, "2.3") && !strings.HasPrefix(version, "2.4")
	for _, e := range errs {
		seg, field := errLocation(e.reason)
		hl7Code, hl7Text := errCode(e.reason)
		reason := hl7Escape(e.reason)
		loc := ""
		if seg != "" {
			loc = fmt.Sprintf("%s^1^%d", seg, field)
		}
		if v25 {
			severity := "E"
			if e.warning {
				severity = "W"
			}
			fmt.Fprintf(&b, "ERR||%s|%d^%s^HL70357|%s||||%s\r", loc, hl7Code, hl7Text, severity, reason)
		} else {
			if loc == "" {
				loc = "^^"
			}
			fmt.Fprintf(&b, "ERR|%s^%d&%s&HL70357\r", loc, hl7Code, reason)
		}
	}
	return b.Bytes()
}

// fieldRE finds the field a reason names first: "PID-7 date of birth ...".
var fieldRE = regexp.MustCompile(`\b([A-Z][A-Z0-9]{2})-([0-9]{1,3})\b`)

// errLocation is the segment and field a reason is about, "" when it names
// none.
func errLocation(reason string) (string, int) {
	m := fieldRE.FindStringSubmatch(reason)
	if m == nil {
		return "", 0
	}
	n, _ := strconv.Atoi(m[2])
	return m[1], n
}

// errCode is the HL7 error code (table 0357) for a reason: 101 for a field
// that is missing, 102 for one that holds a wrong value, 207 for anything
// else (a message the adapter cannot read, a broker's refusal).
func errCode(reason string) (int, string) {
	switch {
	case strings.Contains(reason, " is empty") || strings.Contains(reason, " is missing") ||
		strings.Contains(reason, " has no ") || strings.Contains(reason, "no contact"):
		return 101, "Required field missing"
	case fieldRE.MatchString(reason):
		return 102, "Data type error"
	}
	return 207, "Application internal error"
}

// hl7Escape writes the HL7 delimiters in s as escape sequences and control
// characters as spaces, so that s is one field of a segment.
func hl7Escape(s string) string {
	var b strings.Builder
	for _, r := range s {
		switch r {
		case '|':
			b.WriteString(`\F\`)
		case '^':
			b.WriteString(`\S\`)
		case '~':
			b.WriteString(`\R\`)
		case '\\':
			b.WriteString(`\E\`)
		case '&':
			b.WriteString(`\T\`)
		default:
			if r < 0x20 || r == 0x7f {
				r = ' '
			}
			b.WriteRune(r)
		}
	}
	return b.String()
}

// clipRunes cuts s to n characters, ending "..." when cut (ASCII: engines
// that read ACKs as ISO-8859-1 show it as written).
func clipRunes(s string, n int) string {
	if r := []rune(s); len(r) > n {
		return string(r[:n-3]) + "..."
	}
	return s
}
