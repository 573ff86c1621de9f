// Package schemas is the event catalogue of ecm-broker and the JSON Schemas
// of its events' data (shared/spec/domain.md, docs/policy-input.md).
//
// The catalogue (catalogue.go) is data: for each name, such as
// "index.child.registered", whether it is an s.12 index event, its purpose
// (the first segment of the name) and which agency kinds may publish it
// (the broker alone for the events it generates). Lookup takes a CloudEvents
// type, uk.gov.ecm.<name>.v1.
//
// Each event type has a draft 2020-12 schema, <name>.v1.json in this
// directory, with $id urn:uk.gov.ecm:schema:<name>.v1: the value publishers
// give as dataschema (SchemaID). The building blocks they share
// (names, contacts, addresses, area slugs, participant ids, dates, the
// agency kind, purpose and ECM outcome enums) are in defs.v1.json. Every
// object in every schema is closed (additionalProperties false): index
// events so that nothing beyond the s.12(4) basic data can enter the index,
// case events so that a typing error in a field name is caught at the door
// instead of silently dropped.
//
// Data enters as the raw bytes of an event's data and its type: the
// broker's ingest calls Validate once per event, before the policy sees it.
// The schemas are embedded and compiled once (Load, or Default on first
// use); Validate decodes the data once and checks it against the compiled
// schema of its type and against what JSON Schema cannot express:
//
//   - the data is valid UTF-8 and at most 1 MiB;
//   - no string holds a control character (free text may hold tabs and
//     line breaks), U+FFFD (the trace of an unpaired surrogate escape or of
//     mis-decoded text) or a bidirectional override that could disguise a
//     name on a practitioner's screen;
//   - dob and last_seen are not after today's date in the UK, and
//     occurred_at, flagged_at and ended not after the broker's clock plus
//     five minutes of clock skew;
//   - no date is more than 25 years ahead (nobody is in scope past 25, so
//     a later date is a mistyped year);
//   - to is not before from, end not before start, ended not before since;
//   - no object holds a key twice (duplicates.go).
//
// Problems leave as strings "<path>: <what is wrong>", such as
// "data.address.postcode: required", sorted, for the dead-letter record,
// the audit and the publisher. They name the field and the rule broken and
// never repeat a value the publisher sent, since the data is about a child
// and the audit cannot be erased (redact.go).
//
// The ECM outcome slugs are be_healthy, stay_safe, enjoy_and_achieve,
// make_a_positive_contribution and achieve_economic_well_being (Every Child
// Matters: Change for Children, the five outcomes).
package schemas
