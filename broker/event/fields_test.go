package event

import "testing"

func TestJSONFields(t *testing.T) {
	data := []byte(`{"a": "x\"y\\", "skip": {"b": [1, "}]\\\"", {"c": null}]}, "n": 12, "t": true, "u": "\u00e9", "last": [ ]}`)
	got := map[string]string{}
	err := ScanFields(data, Fields{"a": true, "n": true, "t": true, "u": true, "last": true}, func(k string, v []byte) { got[k] = string(v) })
	if err != nil || got["a"] != `"x\"y\\"` || got["n"] != "12" || got["t"] != "true" || got["last"] != "[ ]" || JSONString([]byte(got["u"])) != "é" ||
		JSONString([]byte(got["a"])) != `x"y\` {
		t.Errorf("%v %v", got, err)
	}
	if err := ScanFieldsUntil(data, Fields{"a": true}, "n", func(string, []byte) {}); err != ErrStopFields {
		t.Errorf("until: %v", err)
	}
	for _, bad := range []string{`[1]`, `{"a": "open`, `{"a" 1}`, `{"a": {"b": 1}`} {
		if err := ScanFields([]byte(bad), AllFields, func(string, []byte) {}); err == nil {
			t.Errorf("%s: no error", bad)
		}
	}
}
