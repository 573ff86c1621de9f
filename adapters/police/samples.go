package police

import "embed"

// Samples are realistic exports in this agency's native formats (the
// conformance suite's good samples): what the demo feeds through the adapter,
// and what an agency's IT team can compare its own export with.
//
//go:embed testdata/*.json
var Samples embed.FS
