package lea_test

import (
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/cloudevents/sdk-go/v2/event"

	"github.com/ecm-broker/ecm-broker/adapters"
	"github.com/ecm-broker/ecm-broker/adapters/lea"
	"github.com/ecm-broker/ecm-broker/test/adaptertest"
)

func TestConformance(t *testing.T) { adaptertest.Run(t, lea.Agency{}, "leeds") }

func FuzzCensusCSV(f *testing.F) {
	adaptertest.Fuzz(f, lea.Agency{}, "fuzz-census.csv", seeds(f, "*census*.csv")...)
}

func FuzzExclusionsCSV(f *testing.F) {
	adaptertest.Fuzz(f, lea.Agency{}, "fuzz-exclusions.csv", seeds(f, "*exclusions*.csv")...)
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

const censusHeader = "upn,uin,given,family,dob,gender,address1,address2,postcode,school_urn,school_name,school_phone,entry_date,leaving_date"

// read opens export under hint and returns its events and rejects.
func read(t *testing.T, hint, export string) (events []event.Event, rejects []string) {
	t.Helper()
	r, err := lea.Agency{}.Open(hint, strings.NewReader(export), "leeds")
	if err != nil {
		t.Fatal(err)
	}
	for {
		rec, err := r.Next()
		if err == io.EOF {
			return events, rejects
		}
		if _, ok := err.(*adapters.RecordError); ok {
			rejects = append(rejects, err.Error())
			continue
		}
		if err != nil {
			t.Fatal(err)
		}
		events = append(events, rec.Events...)
	}
}

func TestCensusTime(t *testing.T) {
	tests := []struct {
		name, header, row string
		want              time.Time
	}{
		{"census date", censusHeader + ",census_date", "K1,4010234709,Jo,Ash,2014-09-12,M,1 A Road,,LS9 6NX,1,A School,0113 248 1234,2018-09-05,,2025-01-16",
			time.Date(2025, 1, 16, 0, 0, 0, 0, time.UTC)},
		{"pupil on roll: entry date", censusHeader, "K1,4010234709,Jo,Ash,2014-09-12,M,1 A Road,,LS9 6NX,1,A School,0113 248 1234,2018-09-05,",
			time.Date(2018, 9, 4, 23, 0, 0, 0, time.UTC)},
		{"leaver: leaving date", censusHeader, "K1,4010234709,Jo,Ash,2014-09-12,M,1 A Road,,LS9 6NX,1,A School,0113 248 1234,2018-09-05,2025-01-10",
			time.Date(2025, 1, 10, 0, 0, 0, 0, time.UTC)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			events, rejects := read(t, "census.csv", tt.header+"\n"+tt.row+"\n")
			if len(rejects) > 0 || len(events) != 2 {
				t.Fatalf("%d events, rejects %q; want 2 events", len(events), rejects)
			}
			for _, e := range events {
				if !e.Time().Equal(tt.want) {
					t.Errorf("%s at %s, want %s", e.Type(), e.Time(), tt.want)
				}
			}
		})
	}
}

// A pupil who moves between two censuses gets a new registration, while the
// unchanged school record keeps its id.
func TestCensusIDsFollowChanges(t *testing.T) {
	spring := "K1,4010234709,Jo,Ash,2014-09-12,M,1 A Road,,LS9 6NX,1,A School,0113 248 1234,2018-09-05,,2025-01-16"
	summer := "K1,4010234709,Jo,Ash,2014-09-12,M,9 B Road,,LS9 7AA,1,A School,0113 248 1234,2018-09-05,,2025-05-15"
	events, _ := read(t, "census.csv", censusHeader+",census_date\n"+spring+"\n"+summer+"\n")
	if len(events) != 4 {
		t.Fatalf("%d events, want 4", len(events))
	}
	if events[0].ID() == events[2].ID() {
		t.Error("the changed registration keeps its id: the broker would drop the new address")
	}
	if events[1].ID() != events[3].ID() {
		t.Error("the unchanged school record has a new id: the broker would store it twice")
	}
}

func TestExclusions(t *testing.T) {
	const header = "record_id,uin,kind,days,reason,last_seen,setting,date\n"
	tests := []struct {
		name, row, want string
	}{
		{"permanent without days", "EX-1,4010234725,permanent,,Physical assault against a pupil,,,2025-01-10",
			`{"kind":"permanent","days":0,"reason":"Physical assault against a pupil"}`},
		{"reason over lines", "EX-2,4010234725,fixed,2,\"Verbal abuse of staff.\nSecond incident this term.\",,,2025-01-10",
			`{"kind":"fixed","days":2,"reason":"Verbal abuse of staff.\nSecond incident this term."}`},
		{"missing without contact columns", "CME-1,4010234709,missing,,,2025-02-28,Gipton Park Primary School,2025-03-14",
			"line 2: setting (setting_phone, setting_email) has neither a phone nor an email"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			events, rejects := read(t, "exclusions.csv", header+tt.row+"\n")
			got := strings.Join(rejects, "\n")
			if len(events) == 1 {
				got = string(events[0].Data())
			}
			if got != tt.want {
				t.Errorf("got %s\nwant %s", got, tt.want)
			}
		})
	}
}

func TestOpen(t *testing.T) {
	tests := []struct {
		hint, export string
		ok           bool
	}{
		{"/drop/School_Census_Spring.CSV", censusHeader + "\n", true},
		{"census", censusHeader + "\n", true},
		{"exclusions-2025.csv", "record_id,uin,kind,days,reason,last_seen,setting,date\n", true},
		{"children-missing-education.csv", "record_id,uin,kind,days,reason,last_seen,setting,date\n", true},
		{"missing", "record_id,uin,kind,days,reason,last_seen,setting,date\n", true},
		{"census.csv", "upn,uin\n", false}, // columns missing
		{"census.txt", censusHeader + "\n", false},
		{"involvements.csv", "record_id\n", false},
	}
	for _, tt := range tests {
		_, err := lea.Agency{}.Open(tt.hint, strings.NewReader(tt.export), "leeds")
		if (err == nil) != tt.ok {
			t.Errorf("Open(%q) error = %v, want ok %v", tt.hint, err, tt.ok)
		}
	}
}
