// Package lea is the adapter for the local education authority: its school
// census and its records of exclusions and children missing education. Every
// format, field and reject reason, for the agencies' IT teams:
// docs/formats/lea.md.
//
// Two exports enter, both CSV with a header row:
//
//   - A school census (*census*.csv, or --format census), one row per pupil.
//     Each row leaves as index.child.registered and index.education.recorded.
//   - Exclusions and children missing education (*exclusions*.csv or
//     *missing*.csv, or --format exclusions), one row per case. A fixed or
//     permanent exclusion leaves as education.exclusion, a child missing
//     education as education.missing.
//
// Events leave with source /<area>/lea and the child's UIN as subject. The
// column mappings are documented where each format is read: census.go and
// exclusions.go.
//
// Which area a registration names, and why: the census has no column for the
// authority a pupil lives in, only where they go to school, so each
// index.child.registered names the adapter's own area (--area), the LEA whose
// schools took the census. That is a statement that the pupil is on this
// LEA's roll, not proof of residence, and the broker treats it so: when the
// child's record is in another area, the registration is a claim (the child
// does not move; social care of both areas receive index.residence.disputed),
// and a census dated before the child's last move is superseded and changes
// neither address nor area (docs/policies.md, "Event time and residence").
// The event's time is the census date, so a late export keeps the date it
// describes. A move is for the systems that know of one to publish, as
// index.address.changed; this adapter publishes none.
package lea
