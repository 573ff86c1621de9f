package pct

import (
	"io"
	"slices"
	"strings"
	"testing"
)

var std = delims{field: '|', component: '^', repetition: '~', escape: '\\', subcomponent: '&'}

func TestUnescape(t *testing.T) {
	tests := []struct {
		name, in, want string
	}{
		{"plain", "Harehills Corner Surgery", "Harehills Corner Surgery"},
		{"ampersand", `Dr Patel \T\ Partners`, "Dr Patel & Partners"},
		{"field separator", `A\F\B`, "A|B"},
		{"component separator", `A\S\B`, "A^B"},
		{"repetition separator", `A\R\B`, "A~B"},
		{"escape character", `C:\E\temp`, `C:\temp`},
		{"line break", `Flat 3\.br\22 Cardigan Road`, "Flat 3 22 Cardigan Road"},
		{"highlighting dropped", `\H\Okafor\N\`, "Okafor"},
		{"hex", `Zo\XC3AB\`, "Zoë"},
		{"bad hex kept", `A\X4\B`, `A\X4\B`},
		{"unknown kept", `A\Q\B`, `A\Q\B`},
		{"unterminated kept", `A\FB`, `A\FB`},
		{"empty sequence kept", `A\\B`, `A\\B`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := std.unescape(tt.in); got != tt.want {
				t.Errorf("unescape(%q) = %q, want %q", tt.in, got, tt.want)
			}
		})
	}
}

func TestComp(t *testing.T) {
	m := &message{delims: std}
	tests := []struct {
		name  string
		field string
		n     int
		want  string
	}{
		{"first", "OKAFOR^Amelia", 1, "OKAFOR"},
		{"second", "OKAFOR^Amelia", 2, "Amelia"},
		{"absent", "OKAFOR", 2, ""},
		{"first subcomponent", "van Dijk&van&Dijk^Sem", 1, "van Dijk"},
		{"explicit null", `""^Sem`, 1, ""},
		{"escaped separator is no separator", `A\S\B^C`, 1, "A^B"},
		{"trimmed", " Leeds ^", 1, "Leeds"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := m.comp(tt.field, tt.n); got != tt.want {
				t.Errorf("comp(%q, %d) = %q, want %q", tt.field, tt.n, got, tt.want)
			}
		})
	}
}

// Records carry the line of their MSH, whatever ends the segments.
func TestMessageLines(t *testing.T) {
	export := "FHS|^~\\&\r\nMSH|^~\\&|A\rPID|1\nMSH|^~\\&|B\r\n\r\nPID|1\r\n" + "\x0bMSH|^~\\&|C\x1c\r"
	r := newHL7Reader(strings.NewReader(export), "leeds", nil)
	var lines []int
	for {
		segs, err := r.readMessage()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		lines = append(lines, segs[0].line)
		if !strings.HasPrefix(segs[0].text, "MSH") {
			t.Errorf("message at line %d starts with %q", segs[0].line, segs[0].text)
		}
	}
	if want := []int{2, 4, 7}; !slices.Equal(lines, want) {
		t.Errorf("messages at lines %v, want %v", lines, want)
	}
}
