package schemas

import (
	"bytes"
	"encoding/json"
)

// duplicateKeys returns the path of every key that an object in data holds
// more than once (data.practice.name), in the order met. JSON leaves
// duplicate keys undefined and Go keeps the last value, so an event with
// one would be decided on one value while its stored bytes, which the
// recipients and a subject access request read, hold both: one child's
// record could show another child's details. The broker refuses them.
//
// It reads data as a stream of tokens (encoding/json unescapes keys, so
// "n\u0061me" is "name"); on data that is not valid JSON it stops and
// returns what it found so far, the caller reporting the syntax error.
func duplicateKeys(data []byte) []string {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber() // no number is too large to be a token
	// One frame per open object or array: an object's keys seen so far,
	// and where the next value goes in the path.
	type frame struct {
		keys    map[string]bool
		isObj   bool
		wantKey bool
		index   int
	}
	var stack []frame
	var path []step
	var found []string
	// value is called once a value (scalar or closed container) ends in
	// the innermost frame.
	value := func() {
		if len(stack) == 0 {
			return
		}
		top := &stack[len(stack)-1]
		path = path[:len(path)-1]
		if top.isObj {
			top.wantKey = true
		} else {
			top.index++
		}
	}
	// enter is called before a value starts: it names the value's place.
	enter := func() {
		if len(stack) == 0 {
			return
		}
		if top := &stack[len(stack)-1]; !top.isObj {
			path = append(path, step{index: top.index})
		}
	}
	for {
		tok, err := dec.Token()
		if err != nil {
			return found
		}
		if len(stack) > 0 {
			if top := &stack[len(stack)-1]; top.isObj && top.wantKey {
				if d, ok := tok.(json.Delim); ok && d == '}' {
					stack = stack[:len(stack)-1]
					value()
					continue
				}
				key, _ := tok.(string)
				if top.keys[key] {
					found = append(found, formatPath(append(path, step{key: key, isKey: true})))
				}
				top.keys[key] = true
				top.wantKey = false
				path = append(path, step{key: key, isKey: true})
				continue
			}
		}
		switch d, _ := tok.(json.Delim); d {
		case '{':
			enter()
			stack = append(stack, frame{keys: map[string]bool{}, isObj: true, wantKey: true})
		case '[':
			enter()
			stack = append(stack, frame{})
		case ']':
			stack = stack[:len(stack)-1]
			value()
		default:
			enter()
			value()
		}
	}
}
