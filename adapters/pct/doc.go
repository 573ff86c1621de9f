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
package pct
