package cenats

import (
	"bytes"
	"encoding/json"
)

// topLevelDuplicates returns the attribute names a structured event's
// object holds more than once, in the order met. encoding/json keeps the
// last value of a duplicate key while the stored bytes keep every one, so
// an event with two subjects would be routed on one child and read back
// (by recipients, by a subject access request) with both. Decode does not
// refuse it (it does not validate); it reports it in Raw.Duplicates for the
// broker to refuse. Duplicates inside data are the schemas' to find.
//
// Keys are compared as encoding/json reads them, unescaped ("subj\u0065ct"
// is "subject"). On input that is not a JSON object it returns nil.
func topLevelDuplicates(body []byte) []string {
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	if tok, err := dec.Token(); err != nil || tok != json.Delim('{') {
		return nil
	}
	seen := map[string]bool{}
	var dups []string
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return dups
		}
		key, _ := tok.(string)
		if seen[key] {
			dups = append(dups, key)
		}
		seen[key] = true
		var skip json.RawMessage
		if err := dec.Decode(&skip); err != nil {
			return dups
		}
	}
	return dups
}
