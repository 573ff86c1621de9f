// Package event turns what a participant sent into an Event the pipeline can
// decide on, or into the problems that say why not. In: the raw CloudEvent
// (cenats.Raw) and the authenticated publisher. Out: a validated *Event
// (CloudEvents 1.0.2, UIN mod-11, the catalogue, the JSON Schema of its type,
// the limits), or []api.Problem naming each field and the rule it breaks.
// Stored rebuilds the Event the pipeline decided from the bytes JetStream
// holds; ScanFields reads chosen top-level fields of a stored JSON object
// without decoding the rest (replay, impact and subject access read many).
package event
