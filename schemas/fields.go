package schemas

import (
	"encoding/json"
	"strings"
	"sync"
)

// HasField reports whether events of the catalogue name can carry the field
// at path, written from the event's root as the policies name the fields a
// copy loses ("data.summary", "data.gp.practice"): each step is a property
// of the object schema above it, through $ref and allOf/anyOf/oneOf. The
// policies' contract check uses it, so that a sharing matrix cannot claim to
// remove a field an event does not have.
func HasField(name, path string) bool {
	rest, ok := strings.CutPrefix(path, "data.")
	if !ok || rest == "" {
		return false
	}
	docs := rawSchemas()
	s, ok := docs[SchemaID(name)]
	if !ok {
		return false
	}
	for _, step := range strings.Split(rest, ".") {
		if s = property(docs, s, step, 0); s == nil {
			return false
		}
	}
	return true
}

// property finds the schema of property p in schema s, or nil.
func property(docs map[string]map[string]any, s map[string]any, p string, depth int) map[string]any {
	if depth > 20 {
		return nil
	}
	if ref, ok := s["$ref"].(string); ok {
		if t := resolve(docs, s, ref); t != nil {
			if found := property(docs, t, p, depth+1); found != nil {
				return found
			}
		}
	}
	if props, ok := s["properties"].(map[string]any); ok {
		if x, ok := props[p].(map[string]any); ok {
			return withBase(x, s)
		}
	}
	for _, k := range []string{"allOf", "anyOf", "oneOf"} {
		subs, _ := s[k].([]any)
		for _, sub := range subs {
			if m, ok := sub.(map[string]any); ok {
				if found := property(docs, withBase(m, s), p, depth+1); found != nil {
					return found
				}
			}
		}
	}
	return nil
}

// baseKey remembers, in a sub-schema, the $id of the document it is in, so
// that a local $ref ("#/$defs/x") resolves there.
const baseKey = "\x00base"

func withBase(x, parent map[string]any) map[string]any {
	if _, ok := x[baseKey]; ok {
		return x
	}
	out := make(map[string]any, len(x)+1)
	for k, v := range x {
		out[k] = v
	}
	out[baseKey] = parent[baseKey]
	return out
}

func resolve(docs map[string]map[string]any, s map[string]any, ref string) map[string]any {
	doc, frag, _ := strings.Cut(ref, "#")
	if doc == "" {
		doc, _ = s[baseKey].(string)
	}
	d, ok := docs[doc]
	if !ok {
		return nil
	}
	var cur any = d
	for _, step := range strings.Split(strings.TrimPrefix(frag, "/"), "/") {
		if step == "" {
			continue
		}
		m, ok := cur.(map[string]any)
		if !ok {
			return nil
		}
		cur = m[step]
	}
	m, ok := cur.(map[string]any)
	if !ok {
		return nil
	}
	return withBase(m, d)
}

// rawSchemas reads every embedded schema as JSON, by $id.
var rawSchemas = sync.OnceValue(func() map[string]map[string]any {
	out := map[string]map[string]any{}
	entries, _ := files.ReadDir(".")
	for _, e := range entries {
		b, err := files.ReadFile(e.Name())
		if err != nil {
			continue
		}
		var m map[string]any
		if json.Unmarshal(b, &m) != nil {
			continue
		}
		id, _ := m["$id"].(string)
		m[baseKey] = id
		out[id] = m
	}
	return out
})
