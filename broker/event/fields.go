package event

import (
	"bytes"
	"encoding/json"
	"errors"
)

// ScanFields calls fn with the raw value of each top-level field of the JSON
// object data that want names, skipping the rest without decoding it.
func ScanFields(data []byte, want FieldSet, fn func(key string, val []byte)) error {
	return ScanFieldsUntil(data, want, "", fn)
}

// ErrStopFields is returned by ScanFieldsUntil when it met its stop key.
var ErrStopFields = errors.New("stopped")

// ScanFieldsUntil is ScanFields, ending (with ErrStopFields) at the field
// named stop, before reading its value.
func ScanFieldsUntil(data []byte, want FieldSet, stop string, fn func(key string, val []byte)) error {
	i := skipSpace(data, 0)
	if i >= len(data) || data[i] != '{' {
		return ErrNotObject
	}
	i++
	for {
		i = skipSpace(data, i)
		if i >= len(data) {
			return ErrNotObject
		}
		if data[i] == '}' {
			return nil
		}
		if data[i] == ',' {
			i++
			continue
		}
		if data[i] != '"' {
			return ErrNotObject
		}
		end := skipString(data, i)
		if end < 0 {
			return ErrNotObject
		}
		key := data[i+1 : end-1]
		if stop != "" && string(key) == stop {
			return ErrStopFields
		}
		i = skipSpace(data, end)
		if i >= len(data) || data[i] != ':' {
			return ErrNotObject
		}
		i = skipSpace(data, i+1)
		vend := skipValue(data, i)
		if vend < 0 {
			return ErrNotObject
		}
		if want.has(key) {
			fn(string(key), data[i:vend])
		}
		i = vend
	}
}

var ErrNotObject = errors.New("not a JSON object")

// FieldSet names the Fields ScanFields passes on.
type FieldSet interface{ has(key []byte) bool }

// Fields is a FieldSet of the names listed.
type Fields map[string]bool

func (f Fields) has(key []byte) bool { return f[string(key)] }

// everyField is the FieldSet of every name.
type everyField struct{}

func (everyField) has([]byte) bool { return true }

func skipSpace(d []byte, i int) int {
	for i < len(d) && (d[i] == ' ' || d[i] == '\n' || d[i] == '\t' || d[i] == '\r') {
		i++
	}
	return i
}

// skipString returns the index after the string starting at d[i] ('"').
func skipString(d []byte, i int) int {
	j := i + 1
	for {
		k := bytes.IndexByte(d[j:], '"')
		if k < 0 {
			return -1
		}
		j += k
		// The quote ends the string unless an odd number of backslashes escapes it.
		n := 0
		for b := j - 1; b > i && d[b] == '\\'; b-- {
			n++
		}
		if n%2 == 0 {
			return j + 1
		}
		j++
	}
}

func skipValue(d []byte, i int) int {
	if i >= len(d) {
		return -1
	}
	switch d[i] {
	case '"':
		return skipString(d, i)
	case '{', '[':
		depth := 0
		for j := i; j < len(d); j++ {
			switch d[j] {
			case '"':
				e := skipString(d, j)
				if e < 0 {
					return -1
				}
				j = e - 1
			case '{', '[':
				depth++
			case '}', ']':
				depth--
				if depth == 0 {
					return j + 1
				}
			}
		}
		return -1
	}
	j := i
	for j < len(d) && d[j] != ',' && d[j] != '}' && d[j] != ']' && d[j] != ' ' && d[j] != '\n' && d[j] != '\t' && d[j] != '\r' {
		j++
	}
	return j
}

// JSONString decodes a raw JSON string value ("" for anything else).
func JSONString(v []byte) string {
	if len(v) < 2 || v[0] != '"' {
		return ""
	}
	if bytes.IndexByte(v, '\\') < 0 {
		return string(v[1 : len(v)-1])
	}
	var s string
	_ = json.Unmarshal(v, &s)
	return s
}
