// Package httpapi is the broker's HTTP API: the routes, who may call each
// (participant or operator token), and handlers that turn a request into a
// call on the pipeline or the operations and the answer back into JSON. In:
// HTTP requests. Out: the api shapes, NDJSON progress for long operations, and
// errors as {"error": ...} with a status that says whose fault it is.
package httpapi
