// Package yot maps case-management exports of a youth offending team to
// catalogue events.
//
// Enters: an XML export (*.xml, or --format xml) whose root holds <case>
// elements; each case names one young person by UIN and lists the court
// orders the team supervises and the workers assigned to the case:
//
//	<yot-export exported="2026-04-01T06:00:00Z">
//	  <case id="LYJS-2026-0042" updated="2026-03-30T14:20:00Z">
//	    <young-person><uin>4010232137</uin></young-person>
//	    <worker><name>…</name><phone>…</phone><email>…</email></worker>
//	    <order id="…"><type>Referral Order</type><start>2026-01-12</start><end>2026-10-11</end></order>
//	  </case>
//	</yot-export>
//
// Leaves, per case and at the case's updated time (else the export's):
// index.practitioner.involved {practitioner {name, role "YOT case worker",
// contact}, service "youth justice"} for each worker, then youthjustice.order
// {order, start, end, worker {name, contact}} for each order. A case is one
// record; its Line is the line where <case> starts. The export is streamed a
// case at a time; a malformed document stops the reader after the cases
// before the fault.
//
// Every field, code and reject reason, for the agencies' IT teams:
// docs/formats/yot.md.
package yot

import (
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"strings"

	"github.com/ecm-broker/ecm-broker/adapters"
)

// Agency is the youth offending team. Its zero value reads order types with
// the shipped code book, codes/order-types.csv.
type Agency struct {
	// Orders, if set, replaces the shipped order types code book
	// (ecm-adapter --codes FILE); its codes map to one of Orders.
	Orders *adapters.CodeBook
}

// Name is the agency kind of the domain spec.
func (Agency) Name() string { return "yot" }

// Open recognises an XML export by its extension or the bare format name xml.
func (a Agency) Open(hint string, r io.Reader, area string) (adapters.Reader, error) {
	if !strings.EqualFold(hint, "xml") && !strings.EqualFold(filepath.Ext(hint), ".xml") {
		return nil, fmt.Errorf("yot: export %q not recognised: want a case-management XML export (.xml)", hint)
	}
	if area == "" {
		return nil, fmt.Errorf("yot: no area given")
	}
	d := xml.NewDecoder(r)
	d.CharsetReader = charsetReader
	orders := a.Orders
	if orders == nil {
		orders = defaultOrders
	}
	return &reader{d: d, area: area, orders: orders}, nil
}

type reader struct {
	d        *xml.Decoder
	area     string
	orders   *adapters.CodeBook
	root     bool   // the root element has been read
	exported string // the root's exported attribute: the fallback event time
	err      error  // the fatal error, once met
}

func (r *reader) Next() (adapters.Record, error) {
	if r.err != nil {
		return adapters.Record{}, r.err
	}
	for {
		// Every piece of the document is a token, so where this token
		// starts is where the previous one ended.
		line, _ := r.d.InputPos()
		tok, err := r.d.Token()
		if err == io.EOF && !r.root {
			err = errors.New("no root element")
		}
		if err == io.EOF {
			return adapters.Record{}, io.EOF
		}
		if err != nil {
			return r.fail(err)
		}
		start, ok := tok.(xml.StartElement)
		switch {
		case !ok:
		case !r.root:
			r.root = true
			r.exported = attr(start, "exported")
		case start.Name.Local == "case":
			var c xmlCase
			if err := r.d.DecodeElement(&c, &start); err != nil {
				return r.fail(err)
			}
			return mapCase(c, line, r.area, r.exported, r.orders)
		}
	}
}

func (r *reader) fail(err error) (adapters.Record, error) {
	r.err = fmt.Errorf("reading yot export: %w", err)
	return adapters.Record{}, r.err
}

func attr(e xml.StartElement, name string) string {
	for _, a := range e.Attr {
		if a.Name.Local == name {
			return a.Value
		}
	}
	return ""
}

// charsetReader lets exports declared ISO-8859-1 through, besides UTF-8
// (which needs no help) and its subset US-ASCII.
func charsetReader(label string, in io.Reader) (io.Reader, error) {
	switch strings.ToLower(label) {
	case "us-ascii", "ascii":
		return in, nil
	case "iso-8859-1", "iso8859-1", "latin1", "latin-1":
		br, ok := in.(io.ByteReader)
		if !ok {
			return nil, errors.New("iso-8859-1 input is not a byte reader")
		}
		return &latin1{in: br}, nil
	}
	return nil, fmt.Errorf("encoding %q not supported: export UTF-8 or ISO-8859-1", label)
}

// latin1 turns ISO-8859-1 bytes into UTF-8.
type latin1 struct {
	in   io.ByteReader
	next byte // the second byte of a two-byte rune, when pending
	has  bool
}

func (l *latin1) ReadByte() (byte, error) {
	if l.has {
		l.has = false
		return l.next, nil
	}
	b, err := l.in.ReadByte()
	if err != nil || b < 0x80 {
		return b, err
	}
	l.next, l.has = 0x80|b&0x3f, true
	return 0xc0 | b>>6, nil
}

func (l *latin1) Read(p []byte) (int, error) {
	for i := range p {
		b, err := l.ReadByte()
		if err != nil {
			if i > 0 {
				return i, nil
			}
			return 0, err
		}
		p[i] = b
	}
	return len(p), nil
}

var _ adapters.Agency = Agency{}
