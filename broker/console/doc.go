// Package console is the IG console in the browser, served by the broker at
// /console: sign-in with the operator accounts of the configuration, the
// sharing matrix, a child's timeline and reviewed subject access, what-if,
// policy proposals with their impact and four-eyes approval, dead-letter
// triage and operations.
//
// In: browser requests (HTML forms, a session cookie). Out: HTML pages
// rendered on the server from embedded templates and a stylesheet. The
// console holds no data and reads nothing itself: every page is built from
// the broker's own JSON API, called in-process through the API's handler
// with the signed-in operator in the request's context
// (httpapi.AsOperator). So the console has exactly the API's authorisation,
// audit records (each page showing a child's data is a read the API
// records) and shapes (package api).
package console
