package pct_test

import (
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ecm-broker/ecm-broker/adapters/pct"
	"github.com/ecm-broker/ecm-broker/test/adaptertest"
)

func TestConformance(t *testing.T) { adaptertest.Run(t, pct.Agency{}, "leeds") }

func FuzzHL7(f *testing.F) {
	adaptertest.Fuzz(f, pct.Agency{}, "fuzz.hl7", seeds(f, "*.hl7")...)
}

func FuzzInvolvementsCSV(f *testing.F) {
	adaptertest.Fuzz(f, pct.Agency{}, "fuzz-involvements.csv", seeds(f, "*involvements*.csv")...)
}

// seeds are the good and bad samples matching pattern.
func seeds(f *testing.F, pattern string) [][]byte {
	var out [][]byte
	for _, dir := range []string{"testdata", "testdata/bad"} {
		paths, _ := filepath.Glob(filepath.Join(dir, pattern))
		for _, p := range paths {
			b, err := os.ReadFile(p)
			if err != nil {
				f.Fatal(err)
			}
			out = append(out, b)
		}
	}
	if len(out) == 0 {
		f.Fatalf("no samples match %s", pattern)
	}
	return out
}

const (
	msh = "MSH|^~\\&|SYSTMONE|B86642|ECM|LEEDS|20250303091502||"
	pid = "PID|1||4010234563^^^NHS^NH||OKAFOR^Amelia^^^^^L||20210314|F|||14 Harehills Lane^^Leeds^^LS8 4HS^GBR^H"
)

// TestHL7 covers the HL7 mappings the samples do not show. Each case is one
// message; want lists substrings of "type data" of its events in order.
func TestHL7(t *testing.T) {
	tests := []struct {
		name   string
		export string
		want   []string
		reject string
	}{
		{
			name:   "registration without PD1 records no GP",
			export: msh + "ADT^A04|1|P|2.4\r" + pid,
			want:   []string{`index.child.registered {"name":{"given":"Amelia","family":"OKAFOR"},"dob":"2021-03-14","gender":"female","address":{"lines":["14 Harehills Lane","Leeds"],"postcode":"LS8 4HS"},"area":"leeds"}`},
		},
		{
			name:   "NHS number after other identifiers",
			export: msh + "ADT^A04|1|P|2.4\rPID|1||RR8-1^^^RR8^MR~L55^^^LEEDS^PI~4010234563^^^NHS^NH||OKAFOR^Amelia||20210314|F|||1 A Road^^Leeds^^LS8 4HS",
			want:   []string{"index.child.registered"},
		},
		{
			name:   "the same NHS number twice",
			export: msh + "ADT^A04|1|P|2.4\rPID|1||4010234563^^^NHS^NH~4010234563^^^NHS^NH||OKAFOR^Amelia||20210314|F|||1 A Road^^Leeds^^LS8 4HS",
			want:   []string{"index.child.registered"},
		},
		{
			name:   "two different NHS numbers",
			export: msh + "ADT^A04|1|P|2.4\rPID|1||4010234563^^^NHS^NH~4010234571^^^NHS^NH||OKAFOR^Amelia||20210314|F|||1 A Road^^Leeds^^LS8 4HS",
			reject: "line 1: PID-3 holds two different NHS numbers",
		},
		{
			name:   "escaped separators in a name",
			export: msh + "ADT^A04|1|P|2.4\rPID|1||4010234563^^^NHS^NH||SMITH\\T\\JONES^Amelia\\S\\Rose||20210314|F|||1 A Road^^Leeds^^LS8 4HS",
			want:   []string{`"name":{"given":"Amelia^Rose","family":"SMITH\u0026JONES"}`},
		},
		{
			name:   "escaped line break in an address",
			export: msh + "ADT^A08|1|P|2.4\rPID|1||4010234563^^^NHS^NH||||||||Flat 3\\.br\\22 Cardigan Road^^Leeds^^LS6 3AG",
			want:   []string{`index.address.changed {"address":{"lines":["Flat 3 22 Cardigan Road","Leeds"],"postcode":"LS6 3AG"},"area":"leeds"}`},
		},
		{
			name:   "update with neither address nor practice",
			export: msh + "ADT^A08|1|P|2.4\rPID|1||4010234563^^^NHS^NH||OKAFOR^Amelia",
		},
		{
			name:   "update deleting the address",
			export: msh + "ADT^A31|1|P|2.5\rPID|1||4010234563^^^NHS^NH||||||||\"\"",
		},
		{
			name:   "practice code in XON-10",
			export: msh + "ADT^A31|1|P|2.5\rPID|1||4010234563^^^NHS^NH\rPD1|||Beeston Hill Health Centre^^^^^^^^^B86030\rZGP|0113 277 0000",
			want:   []string{`index.gp.recorded {"practice":{"name":"Beeston Hill Health Centre","code":"B86030","contact":{"phone":"0113 277 0000"}}}`},
		},
		{
			name:   "practice without a contact",
			export: msh + "ADT^A04|1|P|2.4\r" + pid + "\rPD1|||Crossgates Surgery^^B86099",
			reject: "line 1: ZGP-1 contact of the PD1-3 practice has neither a phone nor an email",
		},
		{
			name:   "results are not the index's business",
			export: msh + "ORU^R01|1|P|2.4\r" + pid + "\rOBX|1|NM|HB^Haemoglobin||120",
		},
		{
			name:   "summer time without offset is London time",
			export: "MSH|^~\\&|A|B|||20250614103000||ADT^A04|1|P|2.4\r" + pid,
			want:   []string{"2025-06-14T09:30:00Z index.child.registered"},
		},
		{
			name:   "time with offset and fraction",
			export: "MSH|^~\\&|A|B|||20250614103000.25-0300||ADT^A04|1|P|2.4\r" + pid,
			want:   []string{"2025-06-14T13:30:00.25Z index.child.registered"},
		},
		{
			name:   "date of birth in the future",
			export: msh + "ADT^A04|1|P|2.4\rPID|1||4010234563^^^NHS^NH||OKAFOR^Amelia||29990101|F|||1 A Road^^Leeds^^LS8 4HS",
			reject: "line 1: PID-7 date of birth 29990101 is in the future",
		},
		{
			name:   "registration without address",
			export: msh + "ADT^A04|1|P|2.4\rPID|1||4010234563^^^NHS^NH||OKAFOR^Amelia||20210314|F",
			reject: "line 1: PID-11 address is empty",
		},
		{
			name:   "other delimiters",
			export: "MSH#$*/%#A#B###20250303091502##ADT$A04#1#P#2.4\rPID#1##4010234563$$$NHS$NH##OKAFOR$Amelia##20210314#F###Flat 2/F/3 A Road$$Leeds$$LS8 4HS",
			want:   []string{`"lines":["Flat 2#3 A Road","Leeds"]`},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r, err := pct.Agency{}.Open("adt.hl7", strings.NewReader(tt.export), "leeds")
			if err != nil {
				t.Fatal(err)
			}
			rec, err := r.Next()
			if tt.reject != "" {
				if err == nil || err.Error() != tt.reject {
					t.Fatalf("Next() error = %v, want %q", err, tt.reject)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if len(rec.Events) != len(tt.want) {
				t.Fatalf("%d events, want %d", len(rec.Events), len(tt.want))
			}
			for i, e := range rec.Events {
				got := e.Time().Format(time.RFC3339Nano) + " " + strings.TrimPrefix(e.Type(), "uk.gov.ecm.")
				got = strings.TrimSuffix(got, ".v1") + " " + string(e.Data())
				if !strings.Contains(got, tt.want[i]) {
					t.Errorf("event %d is\n%s\nwant it to contain\n%s", i, got, tt.want[i])
				}
			}
			if _, err := r.Next(); err != io.EOF {
				t.Errorf("after the message: %v, want io.EOF", err)
			}
		})
	}
}

func TestOpen(t *testing.T) {
	tests := []struct {
		hint, export string
		ok           bool
	}{
		{"ADT_20250303.HL7", "", true},
		{"hl7", "", true},
		{"/drop/health-visitor-involvements.csv", "record_id,uin,action,practitioner_name,role,phone,email,service,date\n", true},
		{"involvements", "record_id,uin,action,practitioner_name,role,phone,email,service,date\n", true},
		{"involvements.csv", "record_id,uin,action\n", false}, // columns missing
		{"involvements.csv", "", false},
		{"census.csv", "upn\n", false},
		{"adt.txt", "", false},
	}
	for _, tt := range tests {
		_, err := pct.Agency{}.Open(tt.hint, strings.NewReader(tt.export), "leeds")
		if (err == nil) != tt.ok {
			t.Errorf("Open(%q) error = %v, want ok %v", tt.hint, err, tt.ok)
		}
	}
	if _, err := (pct.Agency{}).Open("adt.hl7", strings.NewReader(""), "Leeds City"); err == nil {
		t.Error("Open with area \"Leeds City\" = nil error, want an error")
	}
}
