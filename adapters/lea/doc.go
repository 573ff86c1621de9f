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
package lea
