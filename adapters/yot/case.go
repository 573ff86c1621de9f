package yot

import (
	_ "embed"
	"fmt"
	"strings"

	"github.com/cloudevents/sdk-go/v2/event"

	"github.com/ecm-broker/ecm-broker/adapters"
)

// What the index says of a YOT worker.
const (
	workerRole    = "YOT case worker"
	workerService = "youth justice"
)

// xmlCase is one <case> of the export. Elements the broker does not carry
// (the young person's name, offences, assessments) are not read.
type xmlCase struct {
	ID      string `xml:"id,attr"`
	Updated string `xml:"updated,attr"`
	People  []struct {
		UIN string `xml:"uin"`
	} `xml:"young-person"`
	Workers []xmlWorker `xml:"worker"`
	Orders  []xmlOrder  `xml:"order"`
}

type xmlWorker struct {
	Name  string `xml:"name"`
	Phone string `xml:"phone"`
	Email string `xml:"email"`
}

type xmlOrder struct {
	ID    string `xml:"id,attr"`
	Type  string `xml:"type"`
	Start string `xml:"start"`
	End   string `xml:"end"`
}

// Catalogue data shapes.
type (
	practitioner struct {
		Name    string           `json:"name"`
		Role    string           `json:"role"`
		Contact adapters.Contact `json:"contact"`
	}
	involvedData struct {
		Practitioner practitioner `json:"practitioner"`
		Service      string       `json:"service"`
	}
	worker struct { // an order's worker: name and contact, no role
		Name    string           `json:"name"`
		Contact adapters.Contact `json:"contact"`
	}
	orderData struct {
		Order  string `json:"order"`
		Start  string `json:"start"`
		End    string `json:"end"`
		Worker worker `json:"worker"`
	}
)

// mapCase maps one case to its events, or rejects the whole case: a case
// whose order or worker cannot be read is not published by halves.
func mapCase(c xmlCase, line int, area, exported string, orders *adapters.CodeBook) (adapters.Record, error) {
	id, err := adapters.ShortField("case id attribute", c.ID)
	if err != nil {
		return adapters.Record{}, adapters.Rejectf(line, "%v", err)
	}
	reject := func(format string, args ...any) (adapters.Record, error) {
		return adapters.Record{}, adapters.Rejectf(line, "case %s: %s", id, fmt.Sprintf(format, args...))
	}
	if len(c.People) != 1 {
		return reject("has %d young-person elements, want one", len(c.People))
	}
	child, err := adapters.ChildUIN(c.People[0].UIN)
	if err != nil {
		return reject("%v", err)
	}
	when, field := c.Updated, "updated attribute"
	if strings.TrimSpace(when) == "" {
		when, field = exported, "updated attribute (and the export's exported attribute)"
	}
	at, err := adapters.Timestamp(field, when)
	if err != nil {
		return reject("%v", err)
	}

	type keyed struct {
		name, key string
		data      any
	}
	var out []keyed
	seen := map[string]bool{}
	add := func(name, key string, data any) {
		if !seen[key] { // a worker or an order listed twice is published once
			seen[key] = true
			out = append(out, keyed{name, key, data})
		}
	}
	var workers []worker
	for i, x := range c.Workers {
		label := fmt.Sprintf("worker %d", i+1)
		name, err := adapters.ShortField(label+" name", x.Name)
		if err != nil {
			return reject("%v", err)
		}
		contact, err := adapters.ContactOf(label, x.Phone, x.Email)
		if err != nil {
			return reject("%v", err)
		}
		workers = append(workers, worker{Name: name, Contact: contact})
		p := practitioner{Name: name, Role: workerRole, Contact: contact}
		// The export is a snapshot: the key holds what may change, so that
		// a new contact is a new event while a re-export is not.
		key := id + "/worker/" + name + "/" + contact.Phone + "/" + contact.Email
		add("index.practitioner.involved", key, involvedData{Practitioner: p, Service: workerService})
	}
	for i, x := range c.Orders {
		label := fmt.Sprintf("order %d", i+1)
		if oid := strings.TrimSpace(x.ID); oid != "" {
			label = "order " + adapters.Clip(oid)
		}
		code, err := orderCode(orders, label, x.Type)
		if err != nil {
			return reject("%v", err)
		}
		start, err := adapters.ISODate(label+" start", x.Start)
		if err != nil {
			return reject("%v", err)
		}
		end, err := adapters.ISODate(label+" end", x.End)
		if err != nil {
			return reject("%v", err)
		}
		if end < start {
			return reject("%s ends (%s) before it starts (%s)", label, end, start)
		}
		if len(workers) == 0 {
			return reject("has an order but no worker to name on it")
		}
		key := id + "/order/" + code + "/" + start // for an order without id
		if oid := strings.TrimSpace(x.ID); oid != "" {
			key = id + "/order/" + oid
		}
		// An order extended or moved to another case manager is a new event.
		key += "/" + end + "/" + workers[0].Name
		// The first worker is the case manager, named on every order.
		add("youthjustice.order", key, orderData{Order: code, Start: start, End: end, Worker: workers[0]})
	}

	rec := adapters.Record{Line: line, Events: make([]event.Event, 0, len(out))}
	for _, k := range out {
		e, err := adapters.NewEvent(area, Agency{}.Name(), k.name, child, at, k.key, k.data)
		if err == nil {
			err = adapters.BrokerCheck(e)
		}
		if err != nil {
			return reject("%v", err)
		}
		rec.Events = append(rec.Events, e)
	}
	return rec, nil
}

// orderTypes is the default order types code book, codes/order-types.csv:
// the names and abbreviations of the youth court orders a YOT supervises,
// mapped to the catalogue's order codes.
//
//go:embed codes/order-types.csv
var orderTypesCSV []byte

// Orders are the catalogue's youthjustice.order codes, what a code may map to.
var Orders = []string{"referral_order", "reparation_order", "youth_rehabilitation_order",
	"detention_and_training_order", "long_term_detention"}

var defaultOrders = adapters.MustParseCodeBook("order-types.csv", orderTypesCSV, Orders...)

func orderCode(book *adapters.CodeBook, label, s string) (string, error) {
	if strings.TrimSpace(s) == "" {
		return "", fmt.Errorf("%s type is missing", label)
	}
	if code, ok := book.Lookup(s); ok {
		return code, nil
	}
	return "", book.Unknown(label+" type", s)
}
