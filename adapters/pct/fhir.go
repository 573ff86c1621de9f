package pct

import (
	"bufio"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/ecm-broker/ecm-broker/adapters"
)

// FHIR R4 Patient resources as UK Core (and the PDS FHIR API) write them.
// The systems and extensions the adapter reads:
const (
	nhsNumberSystem = "https://fhir.nhs.uk/Id/nhs-number"
	// The NHS number's verification status, an extension of its identifier
	// whose valueCodeableConcept holds a code of the England code system.
	nhsVerificationExt = "https://fhir.hl7.org.uk/StructureDefinition/Extension-UKCore-NHSNumberVerificationStatus"
	nhsVerified        = "01" // Number present and verified
	// Organisation codes of the ODS: the UK Core and PDS FHIR API system,
	// and the older Spine system that some feeds still send.
	odsSystem      = "https://fhir.nhs.uk/Id/ods-organization-code"
	odsSystemSpine = "http://fhir.nhs.net/Id/ods-organization-code"
	// Security labels (meta.security) of the HL7 v3 Confidentiality code system.
	confidentialitySystem = "http://terminology.hl7.org/CodeSystem/v3-Confidentiality"
)

// nhsVerificationStatus names the codes of the NHS number verification
// status (UKCore-NHSNumberVerificationStatusEngland), for reject reasons.
var nhsVerificationStatus = map[string]string{
	"01": "number present and verified",
	"02": "number present but not traced",
	"03": "trace required",
	"04": "trace attempted, no match or multiple match found",
	"05": "trace needs to be resolved (NHS number or patient detail conflict)",
	"06": "trace in progress",
	"07": "number not present and trace not required",
	"08": "trace postponed (baby under six weeks old)",
}

// restrictedLabels are the meta.security codes of a patient whose address
// and contacts must not leave the NHS: R (restricted, the PDS "sensitive"
// flag), V (very restricted) and the PDS's REDACTED.
var restrictedLabels = map[string]bool{"R": true, "V": true, "REDACTED": true}

type (
	fhirMeta struct {
		VersionID   string   `json:"versionId"`
		LastUpdated string   `json:"lastUpdated"`
		Security    []coding `json:"security"`
	}
	coding struct {
		System  string `json:"system"`
		Code    string `json:"code"`
		Display string `json:"display"`
	}
	fhirPeriod struct {
		Start string `json:"start"`
		End   string `json:"end"`
	}
	fhirIdentifier struct {
		System    string      `json:"system"`
		Value     string      `json:"value"`
		Period    *fhirPeriod `json:"period"`
		Extension []struct {
			URL                  string `json:"url"`
			ValueCodeableConcept *struct {
				Coding []coding `json:"coding"`
			} `json:"valueCodeableConcept"`
		} `json:"extension"`
	}
	humanName struct {
		Use    string      `json:"use"`
		Family string      `json:"family"`
		Given  []string    `json:"given"`
		Period *fhirPeriod `json:"period"`
	}
	fhirAddress struct {
		Use        string      `json:"use"`
		Line       []string    `json:"line"`
		City       string      `json:"city"`
		District   string      `json:"district"`
		PostalCode string      `json:"postalCode"`
		Period     *fhirPeriod `json:"period"`
	}
	fhirReference struct {
		Reference  string          `json:"reference"`
		Type       string          `json:"type"`
		Display    string          `json:"display"`
		Identifier *fhirIdentifier `json:"identifier"`
	}
	contactPoint struct {
		System string      `json:"system"`
		Value  string      `json:"value"`
		Period *fhirPeriod `json:"period"`
	}
	fhirPatient struct {
		ID                  string            `json:"id"`
		Meta                fhirMeta          `json:"meta"`
		Identifier          []fhirIdentifier  `json:"identifier"`
		Name                []humanName       `json:"name"`
		Gender              *string           `json:"gender"`
		BirthDate           string            `json:"birthDate"`
		Address             []fhirAddress     `json:"address"`
		GeneralPractitioner []fhirReference   `json:"generalPractitioner"`
		Contained           []json.RawMessage `json:"contained"`
	}
	fhirOrganization struct {
		ID         string           `json:"id"`
		Identifier []fhirIdentifier `json:"identifier"`
		Name       string           `json:"name"`
		Telecom    []contactPoint   `json:"telecom"`
	}
	fhirBundle struct {
		Timestamp string   `json:"timestamp"`
		Meta      fhirMeta `json:"meta"`
		Entry     []struct {
			FullURL  string          `json:"fullUrl"`
			Resource json.RawMessage `json:"resource"`
		} `json:"entry"`
	}
)

// fhirReader reads FHIR R4 JSON: one resource, or several one after another
// (NDJSON, as a bulk export writes them). A Patient is a record; a Bundle's
// entries are read in order, its Patients records, its Organizations there
// for the Patients' generalPractitioner references to resolve. A record's
// Line is its resource's position in the export: every top-level resource
// and every Bundle entry count one.
type fhirReader struct {
	dec       *json.Decoder
	area      string
	practices *Practices
	n         int // resources read
	queue     []fhirItem
	err       error // the fatal error, once met
}

// fhirItem is one resource waiting to be mapped, with what its Bundle gives.
type fhirItem struct {
	n      int
	raw    json.RawMessage
	orgs   map[string]json.RawMessage // the Bundle's Organizations by reference
	when   string                     // the Bundle's time, when the resource has none
	topErr error                      // a resource that is neither Patient nor Bundle
}

func newFHIRReader(r io.Reader, area string, practices *Practices) *fhirReader {
	dec := json.NewDecoder(bufio.NewReader(r))
	return &fhirReader{dec: dec, area: area, practices: practices}
}

func (r *fhirReader) Next() (adapters.Record, error) {
	for {
		for len(r.queue) > 0 {
			it := r.queue[0]
			r.queue = r.queue[1:]
			rec, leftOut, err := r.mapItem(it)
			if err != nil {
				return adapters.Record{}, err
			}
			if len(leftOut) > 0 {
				// the parts left out follow the record, with its line
				rest := make([]fhirItem, 0, len(leftOut)+len(r.queue))
				for _, re := range leftOut {
					rest = append(rest, fhirItem{n: re.Line, topErr: re})
				}
				r.queue = append(rest, r.queue...)
			}
			if len(rec.Events) > 0 {
				return rec, nil
			}
		}
		if r.err != nil {
			return adapters.Record{}, r.err
		}
		var raw json.RawMessage
		if err := r.dec.Decode(&raw); err != nil {
			if errors.Is(err, io.EOF) {
				return adapters.Record{}, io.EOF
			}
			r.err = fmt.Errorf("reading FHIR JSON after resource %d: %v", r.n, err)
			return adapters.Record{}, r.err
		}
		r.enqueue(raw)
	}
}

// enqueue queues a top-level resource, or a Bundle's entries.
func (r *fhirReader) enqueue(raw json.RawMessage) {
	var head struct {
		ResourceType string `json:"resourceType"`
	}
	err := json.Unmarshal(raw, &head)
	if err == nil && head.ResourceType == "Bundle" {
		var b fhirBundle
		if err := json.Unmarshal(raw, &b); err != nil {
			r.n++
			r.queue = append(r.queue, fhirItem{n: r.n, topErr: adapters.Rejectf(r.n, "Bundle: %s", jsonProblem(err))})
			return
		}
		when := b.Meta.LastUpdated
		if when == "" {
			when = b.Timestamp
		}
		orgs := map[string]json.RawMessage{}
		for _, e := range b.Entry {
			var o struct {
				ResourceType, ID string
			}
			if json.Unmarshal(e.Resource, &o) == nil && o.ResourceType == "Organization" {
				if e.FullURL != "" {
					orgs[e.FullURL] = e.Resource
				}
				if o.ID != "" {
					orgs["Organization/"+o.ID] = e.Resource
				}
			}
		}
		for _, e := range b.Entry {
			r.n++
			r.queue = append(r.queue, fhirItem{n: r.n, raw: e.Resource, orgs: orgs, when: when})
		}
		return
	}
	r.n++
	it := fhirItem{n: r.n, raw: raw}
	switch {
	case err != nil:
		it.topErr = adapters.Rejectf(r.n, "%s", jsonProblem(err))
	case head.ResourceType != "Patient":
		it.topErr = adapters.Rejectf(r.n, "resourceType %s is neither Patient nor Bundle", quote(head.ResourceType))
	}
	r.queue = append(r.queue, it)
}

// mapItem maps one queued resource: a Patient to its events; a Bundle's
// other entries to nothing.
func (r *fhirReader) mapItem(it fhirItem) (rec adapters.Record, leftOut []*adapters.RecordError, err error) {
	rec.Line = it.n
	if it.topErr != nil {
		return rec, nil, it.topErr
	}
	var head struct {
		ResourceType string `json:"resourceType"`
	}
	if err := json.Unmarshal(it.raw, &head); err != nil {
		return rec, nil, adapters.Rejectf(it.n, "%s", jsonProblem(err))
	}
	if head.ResourceType != "Patient" {
		return rec, nil, nil // an Organization, a Practitioner: read for reference only
	}
	var p fhirPatient
	if err := json.Unmarshal(it.raw, &p); err != nil {
		return rec, nil, adapters.Rejectf(it.n, "Patient: %s", jsonProblem(err))
	}
	return mapPatient(&p, it, r.area, r.practices)
}

// mapPatient maps a Patient in parts, as mapMessage does an HL7 message:
// without a verified NHS number and a time nothing goes; a restricted
// patient is not published at all; then the registration and the GP
// practice each go or are left out on their own.
func mapPatient(p *fhirPatient, it fhirItem, area string, practices *Practices) (rec adapters.Record, leftOut []*adapters.RecordError, err error) {
	rec.Line = it.n
	c := &check{line: it.n}
	child := fhirNHSNumber(c, p.Identifier)
	when := p.Meta.LastUpdated
	field := "meta.lastUpdated"
	if when == "" && it.when != "" {
		when, field = it.when, "Bundle meta.lastUpdated or timestamp"
	}
	var at time.Time
	if when == "" {
		c.fail("meta.lastUpdated is missing: the events need the time the record was last changed")
	} else if at, err = time.Parse(time.RFC3339Nano, when); err != nil {
		c.fail("%s %s is not an instant such as 2025-03-02T09:00:00Z", field, quote(when))
	}
	if c.err != nil {
		return rec, nil, c.err
	}
	for _, s := range p.Meta.Security {
		if restrictedLabels[s.Code] && (s.System == "" || s.System == confidentialitySystem) {
			// Address, GP practice and phone must never leave the NHS, and a
			// registration cannot go without an address: nothing goes, and
			// the PCT tells social care by its own secure route
			// (docs/formats/pct.md, "Restricted patients").
			return rec, nil, adapters.Rejectf(it.n, "the patient is restricted (meta.security %s): address, GP practice and phone are never published, "+
				"and a registration needs an address, so nothing is; tell children's social care by the agreed secure route", s.Code)
		}
	}
	// The record's own version names its events, so that reading it again
	// yields the same ids; without an id, its content does.
	key := "fhir|" + p.ID + "|" + p.Meta.VersionID + "|" + when
	if p.ID == "" {
		sum := sha256.Sum256(it.raw)
		key = "fhir|" + hex.EncodeToString(sum[:])
	}
	part := func(name string, mapData func(c *check) any) error {
		pc := &check{line: it.n}
		data := mapData(pc)
		if pc.err != nil {
			leftOut = append(leftOut, adapters.Rejectf(it.n, "%s left out: %s", name, pc.err.Reason))
			return nil
		}
		e, err := adapters.NewEvent(area, agency, name, child, at, key, data)
		if err != nil {
			return err
		}
		rec.Events = append(rec.Events, e)
		return nil
	}
	err = part("index.child.registered", func(c *check) any {
		reg := registered{Area: area}
		if n, ok := fhirName(p.Name, at); ok {
			given := ""
			if len(n.Given) > 0 {
				given = n.Given[0]
			}
			reg.Name = personName{Given: c.text("name.given", given), Family: c.text("name.family", n.Family)}
		} else {
			c.fail("name has no official or usual name in use")
		}
		reg.DOB = c.dob("birthDate", p.BirthDate, time.DateOnly)
		reg.Gender = fhirGender(c, p.Gender)
		if a, ok := homeAddressOf(p.Address, at); ok {
			reg.Address = c.address("address", append(append([]string{}, a.Line...), a.City, a.District), a.PostalCode)
		} else {
			c.fail("address has no current home address (use home)")
		}
		return reg
	})
	if err != nil {
		return rec, nil, err
	}
	if gp, ok := registeredPractice(p, it.orgs, at); ok {
		err = part("index.gp.recorded", func(c *check) any {
			return gpRecorded{gp.complete(c, practices)}
		})
	}
	return rec, leftOut, err
}

// fhirNHSNumber is the value of the identifier with the NHS number system,
// which must carry the verification status "number present and verified".
func fhirNHSNumber(c *check, ids []fhirIdentifier) string {
	var found *fhirIdentifier
	for i := range ids {
		if ids[i].System != nhsNumberSystem {
			continue
		}
		if found != nil && strings.ReplaceAll(ids[i].Value, " ", "") != strings.ReplaceAll(found.Value, " ", "") {
			return c.fail("identifier holds two different NHS numbers")
		}
		found = &ids[i]
	}
	if found == nil {
		return c.fail("identifier has no NHS number (system %s)", nhsNumberSystem)
	}
	status := ""
	for _, x := range found.Extension {
		if x.URL == nhsVerificationExt && x.ValueCodeableConcept != nil {
			for _, cd := range x.ValueCodeableConcept.Coding {
				if cd.Code != "" {
					status = cd.Code
					break
				}
			}
		}
	}
	switch {
	case status == "":
		return c.fail("the NHS number has no verification status (extension %s)", nhsVerificationExt)
	case status != nhsVerified:
		what := nhsVerificationStatus[status]
		if what == "" {
			what = "not a known status"
		}
		return c.fail("the NHS number's verification status is %s (%s), not 01 (number present and verified)", quote(status), what)
	}
	return c.uin("NHS number", strings.ReplaceAll(strings.TrimSpace(found.Value), " ", ""))
}

// fhirName picks the official name, else the usual one (PDS), else the first
// that is not old, a nickname, anonymous or a maiden name; one whose period
// has ended never.
func fhirName(names []humanName, at time.Time) (humanName, bool) {
	for _, want := range []string{"official", "usual", ""} {
		for _, n := range names {
			if ended(n.Period, at) {
				continue
			}
			switch {
			case n.Use == want:
			case want == "" && n.Use != "old" && n.Use != "nickname" && n.Use != "anonymous" && n.Use != "maiden":
			default:
				continue
			}
			return n, true
		}
	}
	return humanName{}, false
}

// fhirGender is the administrative gender, whose codes are the catalogue's;
// none given is unknown, as in HL7 v2.
func fhirGender(c *check, g *string) string {
	if g == nil {
		return "unknown"
	}
	switch *g {
	case "female", "male", "other", "unknown":
		return *g
	}
	return c.fail("gender %s is not one of female, male, other, unknown", quote(*g))
}

// homeAddressOf is the current address with use home.
func homeAddressOf(addrs []fhirAddress, at time.Time) (fhirAddress, bool) {
	for _, a := range addrs {
		if a.Use == "home" && !ended(a.Period, at) {
			return a, true
		}
	}
	return fhirAddress{}, false
}

// registeredPractice is the current GP practice among generalPractitioner:
// an Organization named by its ODS code in the reference's identifier (as
// PDS writes it), or resolved to a contained Organization ("#id") or to one
// of the Bundle's entries. A Practitioner reference is not a practice.
func registeredPractice(p *fhirPatient, orgs map[string]json.RawMessage, at time.Time) (namedPractice, bool) {
	contained := map[string]json.RawMessage{}
	for _, raw := range p.Contained {
		var o struct{ ResourceType, ID string }
		if json.Unmarshal(raw, &o) == nil && o.ResourceType == "Organization" && o.ID != "" {
			contained["#"+o.ID] = raw
		}
	}
	for _, ref := range p.GeneralPractitioner {
		if ref.Type == "Practitioner" || strings.HasPrefix(ref.Reference, "Practitioner/") {
			continue
		}
		if ref.Identifier != nil && ended(ref.Identifier.Period, at) {
			continue
		}
		gp := namedPractice{
			field: "generalPractitioner", nameField: "generalPractitioner name",
			contactField: "telecom of practice", noContact: "no Organization with a telecom comes with the Patient",
			name: ref.Display,
		}
		if ref.Identifier != nil && isODS(ref.Identifier.System) {
			gp.code = strings.TrimSpace(ref.Identifier.Value)
		}
		raw, ok := contained[ref.Reference]
		if !ok {
			raw, ok = orgs[ref.Reference]
		}
		if ok {
			var o fhirOrganization
			if err := json.Unmarshal(raw, &o); err == nil {
				for _, id := range o.Identifier {
					if isODS(id.System) && gp.code == "" {
						gp.code = strings.TrimSpace(id.Value)
					}
				}
				if o.Name != "" {
					gp.name = o.Name
				}
				for _, t := range o.Telecom {
					switch {
					case ended(t.Period, at):
					case t.System == "phone" && gp.phone == "":
						gp.phone = t.Value
					case t.System == "email" && gp.email == "":
						gp.email = t.Value
					}
				}
			}
		}
		if gp.code == "" && gp.name == "" {
			continue // a reference the adapter cannot read as a practice
		}
		return gp, true
	}
	return namedPractice{}, false
}

func isODS(system string) bool { return system == odsSystem || system == odsSystemSpine }

// ended reports a period whose end is before at. An end the adapter cannot
// read does not end the period.
func ended(p *fhirPeriod, at time.Time) bool {
	if p == nil || p.End == "" {
		return false
	}
	for _, layout := range []string{time.RFC3339Nano, time.DateOnly, "2006-01", "2006"} {
		if t, err := time.Parse(layout, p.End); err == nil {
			return t.Before(at)
		}
	}
	return false
}

// jsonProblem words a decoding error without quoting the input.
func jsonProblem(err error) string {
	var te *json.UnmarshalTypeError
	if errors.As(err, &te) {
		return fmt.Sprintf("%s is a JSON %s where FHIR has another type", te.Field, te.Value)
	}
	var se *json.SyntaxError
	if errors.As(err, &se) {
		return "not JSON: " + se.Error()
	}
	return "not a FHIR resource: " + err.Error()
}
