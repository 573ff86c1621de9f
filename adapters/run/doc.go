// Package run is the adapter runner behind cmd/ecm-adapter: it reads an
// agency's native exports, maps them to catalogue events with an
// adapters.Agency and stores the events in the broker, losing nothing.
//
// Data enters through a Source (source_*.go): a drop folder, files given on
// the command line, stdin, an HTTP endpoint, or an HL7 v2 MLLP listener.
// Each yields Exports in the benthos input shape — Read returns an export and
// an AckFunc — and the runner calls the AckFunc only once every record of the
// export is durably in the broker (or rejected), so the source may then
// forget it: the folder moves the file to done/ or failed/, the HTTP endpoint
// answers 200, the MLLP listener answers the message with an HL7 ACK (AA
// stored, AE rejected, AR send again; mllp_ack.go). Exports are processed one
// at a time, except those of a source whose clients each wait for their own
// answer (the MLLP listener), which are processed side by side.
//
// Data leaves through a Publisher (publisher_*.go): JetStream publish acks
// on the broker's ingest subject (ecm.ingest.<area>.<agency>), the broker's
// HTTP ingest API in batches, or stdout for --dry-run. Publish returns only
// when every event is stored; while the broker is unreachable it retries with
// exponential backoff. Event ids are derived from the native records, and the
// broker stores each (source, id) once, so sending an event again after a
// crash or a retry is harmless.
//
// Records the agency cannot map (*adapters.RecordError) and events the
// broker refuses go to the export's rejects ("line N: reason", or the record's name: adapters.Where); the other
// records of the export still go through. A file export keeps the line of its
// last fully stored batch in .progress/<file>.offset, so a restarted runner
// resumes where it stopped.
//
// Logs never carry record content (reasons may quote names, dates of birth or
// UINs, so they go to the rejects only): export names, line numbers, counts.
package run
