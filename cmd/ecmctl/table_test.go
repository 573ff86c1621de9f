package main

import (
	"bytes"
	"testing"
)

func TestTable(t *testing.T) {
	var out bytes.Buffer
	tb := newTable(&out, "  ", "A", "B", "C")
	tb.Row("1", "x", "")
	tb.Row("22", "\x1b[31mred\x1b[0m", "line\nbreak")
	if err := tb.Flush(); err != nil {
		t.Fatal(err)
	}
	tb.Row("333", "y", "z") // a later page: widths only grow
	if err := tb.Flush(); err != nil {
		t.Fatal(err)
	}
	want := "  A   B             C\n" +
		"  1   x\n" +
		"  22  ?[31mred?[0m  line?break\n" +
		"  333  y             z\n"
	if out.String() != want {
		t.Errorf("got:\n%q\nwant:\n%q", out.String(), want)
	}
}
