// Package api holds every shape the broker stores or serves: audit records,
// decisions, dead letters, deliveries, the child's index record, and the
// answers of the operations (replay, impact, subject access, erasure,
// verification, push delivery's status and retry). The broker writes them and its clients (ecmctl, the console,
// agency tools) read them; neither side keeps a copy. It imports only the
// standard library.
package api
