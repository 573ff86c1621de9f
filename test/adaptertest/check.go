package adaptertest

import (
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/cloudevents/sdk-go/v2/event"

	"github.com/ecm-broker/ecm-broker/schemas"
	"github.com/ecm-broker/ecm-broker/uin"
)

// CheckEvent lists what is wrong with an event that agency published in area:
// what the broker would reject it for on ingest. None means it is fine.
func CheckEvent(e event.Event, agency, area string) []string {
	var problems []string
	add := func(format string, args ...any) { problems = append(problems, fmt.Sprintf(format, args...)) }

	if err := e.Validate(); err != nil {
		add("not a valid CloudEvent: %v", err)
	}
	if want := "/" + area + "/" + agency; e.Source() != want {
		add("source %q, want %q", e.Source(), want)
	}
	if err := uin.Check(e.Subject()); err != nil {
		add("subject %q: %v", e.Subject(), err)
	}
	name, prefixed := strings.CutPrefix(e.Type(), schemas.TypePrefix)
	name, suffixed := strings.CutSuffix(name, schemas.TypeSuffix)
	if !prefixed || !suffixed || name == "" {
		add("type %q is not %s<name>%s", e.Type(), schemas.TypePrefix, schemas.TypeSuffix)
	}
	if entry, ok := schemas.Lookup(e.Type()); !ok {
		add("type %q is not in the event catalogue", e.Type())
	} else if !entry.MayPublish(agency) {
		add("a %s participant may not publish %s", agency, entry.Name)
	}
	if want := schemas.SchemaID(name); e.DataSchema() != want {
		add("dataschema %q, want %q", e.DataSchema(), want)
	}
	if e.Time().IsZero() {
		add("time is not set")
	}
	if e.DataContentType() != event.ApplicationJSON {
		add("datacontenttype %q, want %q", e.DataContentType(), event.ApplicationJSON)
	}
	if !json.Valid(e.Data()) {
		add("data is not JSON: %.80q", e.Data())
		return problems
	}
	for _, p := range schemas.Validate(e.Type(), e.Data(), time.Now()) {
		add("%s", p)
	}
	return problems
}
