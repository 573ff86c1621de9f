// Package httpapi is the broker's HTTP API: the routes, who may call each
// (participant or operator token), and handlers that turn a request into a
// call on the pipeline or the operations and the answer back into JSON.
// Handlers return their errors (errors.go: an apiError carries the status and a
// message a person can act on) and serve writes them in one place as
// api.Error, {"error": message, "code": code}. In: HTTP requests. Out: the api
// shapes, NDJSON progress for long operations.
package httpapi
