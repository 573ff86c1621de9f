// Package pct is the adapter for Primary Care Trust systems: GP practice
// registration systems, hospital PAS and the health visiting service. Every
// format, field, code and reject reason, for the agencies' IT teams:
// docs/formats/pct.md.
//
// Three exports enter:
//
//   - HL7 v2 ADT messages (*.hl7, --format hl7, or over MLLP with
//     adapters/run). A04 and A28 register a child (index.child.registered,
//     plus index.gp.recorded when PD1-3 names a practice); A08 and A31 update
//     one (index.address.changed when PID-11 has an address,
//     index.gp.recorded when PD1-3 has a practice). Other messages are read
//     and publish nothing. A message maps in parts (adt.go).
//   - FHIR R4 UK Core Patients and Bundles (*.json, *.ndjson, --format fhir):
//     index.child.registered and index.gp.recorded (fhir.go).
//   - Health visitor involvements and concerns as CSV (*involvements*.csv, or
//     --format involvements), one row per action: involved, ended, concern,
//     concern_withdrawn, leaving as index.practitioner.involved,
//     index.practitioner.ended, index.concern.flagged, index.concern.withdrawn.
//
// A practice's name and phone come from the NHS ODS practice file
// (Practices, practices.go) where a message lacks them.
//
// Events leave with source /<area>/pct and the child's NHS number as subject.
// The field mappings are documented where each format is read: adt.go and
// involvements.go.
//
// Which area a registration names, and why: the area in PID-11.9 (the
// address's county/parish code) when the sending system fills it with an
// area slug, else the adapter's own area (--area), the PCT the practice
// belongs to. A practice registers patients who live nearby, so its own area
// is the best default, but it is not proof of residence, and the broker
// treats it so: an A04/A28 naming another area than the child's record, sent
// by a PCT outside the child's area, is a claim (the child does not move;
// social care of both areas receive index.residence.disputed), while one from
// the child's own area's PCT naming a new area in PID-11.9 corrects the
// record and moves the child. An A08/A31 with an address is a move proper
// (index.address.changed), to the PID-11.9 area or the adapter's own. Every
// event's time is MSH-7, the message time, so a message replayed from an
// interface engine's queue does not undo a newer change (docs/policies.md,
// "Event time and residence").
package pct
