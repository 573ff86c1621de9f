// Package pct is the adapter for Primary Care Trust systems: GP practice
// registration systems and the health visiting service.
//
// Two exports enter:
//
//   - HL7 v2 ADT messages (*.hl7, or --format hl7). A04 and A28 register a
//     child (index.child.registered, plus index.gp.recorded when PD1-3 names a
//     practice); A08 and A31 update one (index.address.changed when PID-11 has
//     an address, index.gp.recorded when PD1-3 has a practice). Other messages
//     are read and publish nothing.
//   - Health visitor involvements and concerns as CSV (*involvements*.csv, or
//     --format involvements), one row per action: involved, ended, concern,
//     concern_withdrawn, leaving as index.practitioner.involved,
//     index.practitioner.ended, index.concern.flagged, index.concern.withdrawn.
//
// Events leave with source /<area>/pct and the child's NHS number as subject.
// The field mappings are documented where each format is read: adt.go and
// involvements.go.
package pct
