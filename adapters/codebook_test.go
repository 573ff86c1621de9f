package adapters

import (
	"strings"
	"testing"
)

func TestCodeBook(t *testing.T) {
	b, err := ParseCodeBook("kinds.csv", strings.NewReader("\ufeffCode,Description,Maps_To\n"+
		"Domestic Abuse,,domestic_abuse\n"+
		"misper,missing person,missing_person\n"+
		"\n"+
		"5XX,a group,neet\n"+
		"512,listed in full,eet\n"), "domestic_abuse", "missing_person", "neet", "eet")
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		code, want string
		ok         bool
	}{
		{"DOMESTIC ABUSE", "domestic_abuse", true},
		{"domestic_abuse", "domestic_abuse", true},
		{"  Domestic-Abuse ", "domestic_abuse", true},
		{"MISPER", "missing_person", true},
		{"540", "neet", true},
		{"512", "eet", true}, // the code in full wins over the pattern
		{"5400", "", false},
		{"5X0", "", false},
		{"burglary", "", false},
	}
	for _, tt := range tests {
		if got, ok := b.Lookup(tt.code); got != tt.want || ok != tt.ok {
			t.Errorf("Lookup(%q) = %q, %v; want %q, %v", tt.code, got, ok, tt.want, tt.ok)
		}
	}
	if b.Len() != 4 {
		t.Errorf("Len() = %d, want 4", b.Len())
	}
	if err := b.Unknown("kind", "BREACH OF THE PEACE"); err.Error() != `kind "BREACH OF THE PEACE" is not in the code book kinds.csv: add it there, mapped to one of domestic_abuse, missing_person, neet, eet` {
		t.Errorf("Unknown = %v", err)
	}
}

func TestCodeBookRefuses(t *testing.T) {
	tests := []struct{ name, file, want string }{
		{"no header", "", "reading the header row"},
		{"columns missing", "code,value\nA,b\n", "must name the columns code and maps_to"},
		{"value not allowed", "code,maps_to\nA,x\nB,burglary\n", "line 3: code B maps to \"burglary\", which is not one of x, y"},
		{"twice", "code,maps_to\nA b,x\na_B,y\n", "line 3: code A B is listed twice"},
		{"pattern twice", "code,maps_to\n5xx,x\n5XX,y\n", "line 3: code 5XX is listed twice"},
		{"empty code", "code,maps_to\n,x\n", "line 2: the code is empty"},
		{"nothing", "code,maps_to\n", "lists no code"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ParseCodeBook("b.csv", strings.NewReader(tt.file), "x", "y")
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("ParseCodeBook = %v, want an error containing %q", err, tt.want)
			}
		})
	}
}
