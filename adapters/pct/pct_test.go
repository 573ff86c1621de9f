package pct_test

import (
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ecm-broker/ecm-broker/adapters"
	"github.com/ecm-broker/ecm-broker/adapters/pct"
	"github.com/ecm-broker/ecm-broker/test/adaptertest"
)

func TestConformance(t *testing.T) {
	t.Run("as shipped", func(t *testing.T) { adaptertest.Run(t, pct.Agency{}, "leeds") })
	// Messages without Z segments, whose practices' contacts come from the
	// ODS practice file.
	t.Run("with practices", func(t *testing.T) {
		adaptertest.RunDir(t, pct.Agency{Practices: practices(t)}, "leeds", "testdata/ods")
	})
}

// practices is the synthetic ODS practice file of the tests.
func practices(t testing.TB) *pct.Practices {
	t.Helper()
	p, err := pct.LoadPractices("testdata/reference/epraccur.csv")
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func FuzzHL7(f *testing.F) {
	adaptertest.Fuzz(f, pct.Agency{}, "fuzz.hl7", seeds(f, "*.hl7")...)
}

func FuzzFHIR(f *testing.F) {
	adaptertest.Fuzz(f, pct.Agency{}, "fuzz.json", seeds(f, "*.json")...)
}

func FuzzInvolvementsCSV(f *testing.F) {
	adaptertest.Fuzz(f, pct.Agency{}, "fuzz-involvements.csv", seeds(f, "*involvements*.csv")...)
}

// seeds are the good and bad samples matching pattern.
func seeds(f *testing.F, pattern string) [][]byte {
	var out [][]byte
	for _, dir := range []string{"testdata", "testdata/bad", "testdata/ods", "testdata/ods/bad"} {
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
// message; want lists substrings of "type data" of its events in order,
// rejects the reject lines of the parts left out (or of the whole message).
// A case with odsFile is read with the synthetic ODS practice file.
func TestHL7(t *testing.T) {
	tests := []struct {
		name    string
		export  string
		want    []string
		reject  string
		odsFile bool
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
			want:   []string{"index.child.registered"},
			reject: "line 1: index.gp.recorded left out: PD1-3 practice B86099 has no contact: the message has no ZGP segment and no practice file was given (--practices epraccur.csv)",
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
			reject: "line 1: index.child.registered left out: PID-7 date of birth 29990101 is in the future",
		},
		{
			name:   "registration without address",
			export: msh + "ADT^A04|1|P|2.4\rPID|1||4010234563^^^NHS^NH||OKAFOR^Amelia||20210314|F",
			reject: "line 1: index.child.registered left out: PID-11 address is empty",
		},
		{
			name:   "other delimiters",
			export: "MSH#$*/%#A#B###20250303091502##ADT$A04#1#P#2.4\rPID#1##4010234563$$$NHS$NH##OKAFOR$Amelia##20210314#F###Flat 2/F/3 A Road$$Leeds$$LS8 4HS",
			want:   []string{`"lines":["Flat 2#3 A Road","Leeds"]`},
		},

		// Messages as integration engines send them: no Z segment, the
		// practice's contact from the ODS practice file.
		{
			name:    "registration without Z segments: practice name and phone from the practice file",
			export:  msh + "ADT^A04^ADT_A01|1|P|2.4\rEVN|A04|20250303091502\r" + pid + "\rPD1|||^^B86642\rPV1|1|N",
			odsFile: true,
			want: []string{"index.child.registered",
				`index.gp.recorded {"practice":{"name":"HAREHILLS CORNER SURGERY","code":"B86642","contact":{"phone":"0113 496 0000"}}}`},
		},
		{
			name:    "the message's practice name wins over the file's",
			export:  msh + "ADT^A28^ADT_A05|1|P|2.4\r" + pid + "\rPD1|||Harehills Corner Surgery^^B86642",
			odsFile: true,
			want:    []string{"index.child.registered", `"name":"Harehills Corner Surgery","code":"B86642","contact":{"phone":"0113 496 0000"}`},
		},
		{
			name:    "a ZGP contact wins over the file's phone",
			export:  msh + "ADT^A04|1|P|2.4\r" + pid + "\rPD1|||^^B86642\rZGP|^NET^Internet^harehills@nhs.net",
			odsFile: true,
			want:    []string{"index.child.registered", `"contact":{"email":"harehills@nhs.net"}`},
		},
		{
			name:    "ITK ZU segments and other local segments are ignored",
			export:  msh + "ADT^A04|1|P|2.4\rEVN|A04\r" + pid + "\rZU1|20250303|X\rPD1|||^^B86030\rZU3|1\rZXX|anything^at^all",
			odsFile: true,
			want:    []string{"index.child.registered", `"code":"B86030"`},
		},
		{
			name:    "practice not in the file: the registration goes, the GP is left out",
			export:  msh + "ADT^A04|1|P|2.4\r" + pid + "\rPD1|||Unknown Surgery^^B86999",
			odsFile: true,
			want:    []string{"index.child.registered"},
			reject:  "line 1: index.gp.recorded left out: PD1-3 practice B86999 has no contact: the message has no ZGP segment and B86999 is not in the practice file",
		},
		{
			name:    "closed practice",
			export:  msh + "ADT^A31|1|P|2.4\rPID|1||4010234563^^^NHS^NH\rPD1|||^^B86071",
			odsFile: true,
			reject:  "line 1: index.gp.recorded left out: PD1-3 practice B86071 is closed in the practice file (epraccur status C)",
		},
		{
			name:    "both parts left out",
			export:  msh + "ADT^A04|1|P|2.4\rPID|1||4010234563^^^NHS^NH||OKAFOR^Amelia||20210314|F\rPD1|||^^B86050",
			odsFile: true,
			reject: "line 1: index.child.registered left out: PID-11 address is empty\n" +
				"line 1: index.gp.recorded left out: PD1-3 practice B86050 has no contact: the message has no ZGP segment and the practice file gives no phone (column 18) for it",
		},
		{
			name:    "a bad registration does not hold back the GP",
			export:  msh + "ADT^A28|1|P|2.4\rPID|1||4010234563^^^NHS^NH||OKAFOR^Amelia||20210314|X|||1 A Road^^Leeds^^LS8 4HS\rPD1|||^^B86642",
			odsFile: true,
			want:    []string{`index.gp.recorded {"practice":{"name":"HAREHILLS CORNER SURGERY"`},
			reject:  `line 1: index.child.registered left out: PID-8 administrative sex "X" is not one of F, M, O, U, A, N`,
		},
		{
			name:    "no NHS number rejects the message whole",
			export:  msh + "ADT^A04|1|P|2.4\rPID|1||RR8-1^^^RR8^MR||OKAFOR^Amelia||20210314|F|||1 A Road^^Leeds^^LS8 4HS\rPD1|||^^B86642",
			odsFile: true,
			reject:  "line 1: PID-3 has no NHS number (identifier type NH, or assigning authority NHS)",
		},
		{
			name:   "HL7 2.3: NHS number by assigning authority, trigger in EVN-1",
			export: msh + "ADT|1|P|2.3\rEVN|A04|20250303091502\rPID|1||RR8-1^^^RR8^MR~4010234563^^^NHS||OKAFOR^Amelia||20210314|F|||1 A Road^^Leeds^^LS8 4HS",
			want:   []string{`2025-03-03T09:15:02Z index.child.registered {"name":{"given":"Amelia","family":"OKAFOR"}`},
		},
		{
			name:   "every escape sequence in one practice name",
			export: msh + "ADT^A31|1|P|2.5\rPID|1||4010234563^^^NHS^NH\rPD1|||A\\F\\B\\S\\C\\T\\D\\R\\E\\E\\F^^^^^^^^^B86642\rZGP|0113 496 0000",
			want:   []string{`"name":"A|B^C\u0026D~E\\F"`},
		},
		{
			name:   "several PID-3 identifiers, names and addresses: NHS number, legal name, home address",
			export: msh + "ADT^A04|1|P|2.4\rPID|1||L55^^^LEEDS^PI~4010234563^^^NHS^NH^RR8~RR8-1^^^RR8^MR||OKAFOR^Mimi^^^^^N~OKAFOR^Amelia^^^^^L||20210314|F|||PO Box 1^^Leeds^^LS1 1AA^^C~14 Harehills Lane^^Leeds^^LS8 4HS^^H",
			want:   []string{`"name":{"given":"Amelia","family":"OKAFOR"},"dob":"2021-03-14","gender":"female","address":{"lines":["14 Harehills Lane","Leeds"],"postcode":"LS8 4HS"}`},
		},
		{
			name:    "A08 with only a practice",
			export:  msh + "ADT^A08^ADT_A01|1|P|2.4\rPID|1||4010234563^^^NHS^NH\rPD1|||^^B86017",
			odsFile: true,
			want:    []string{`index.gp.recorded {"practice":{"name":"DR PATEL \u0026 PARTNERS","code":"B86017","contact":{"phone":"0113 496 0017"}}}`},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a := pct.Agency{}
			if tt.odsFile {
				a.Practices = practices(t)
			}
			events, rejects := readAll(t, a, "adt.hl7", tt.export)
			if got := strings.Join(rejects, "\n"); got != tt.reject {
				t.Errorf("rejects\n%s\nwant\n%s", got, tt.reject)
			}
			if len(events) != len(tt.want) {
				t.Fatalf("%d events %q, want %d", len(events), events, len(tt.want))
			}
			for i, got := range events {
				if !strings.Contains(got, tt.want[i]) {
					t.Errorf("event %d is\n%s\nwant it to contain\n%s", i, got, tt.want[i])
				}
			}
		})
	}
}

// readAll reads an export to its end and returns its events, each as
// "time type data", and its rejects.
func readAll(t *testing.T, a pct.Agency, hint, export string) (events, rejects []string) {
	t.Helper()
	r, err := a.Open(hint, strings.NewReader(export), "leeds")
	if err != nil {
		t.Fatal(err)
	}
	for range len(export) + 2 {
		rec, err := r.Next()
		if err == io.EOF {
			return events, rejects
		}
		var re *adapters.RecordError
		if errors.As(err, &re) {
			rejects = append(rejects, re.Error())
			continue
		}
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range rec.Events {
			got := e.Time().Format(time.RFC3339Nano) + " " + strings.TrimPrefix(e.Type(), "uk.gov.ecm.")
			events = append(events, strings.TrimSuffix(got, ".v1")+" "+string(e.Data()))
		}
	}
	t.Fatal("the reader does not reach io.EOF")
	return nil, nil
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

// TestFHIR covers the FHIR mappings the samples do not show.
func TestFHIR(t *testing.T) {
	const verified = `{"system":"https://fhir.nhs.uk/Id/nhs-number","value":"4010234563","extension":[{"url":"https://fhir.hl7.org.uk/StructureDefinition/Extension-UKCore-NHSNumberVerificationStatus","valueCodeableConcept":{"coding":[{"code":"01"}]}}]}`
	patient := func(extra string) string {
		return `{"resourceType":"Patient","id":"p","meta":{"lastUpdated":"2025-03-03T09:15:02Z"},"identifier":[` + verified + `],` +
			`"name":[{"use":"old","family":"SMITH","given":["Amy"]},{"use":"usual","family":"OKAFOR","given":["Amelia"]}],"birthDate":"2021-03-14",` +
			`"address":[{"use":"home","line":["14 Harehills Lane"],"city":"Leeds","postalCode":"LS8 4HS"}]` + extra + `}`
	}
	tests := []struct {
		name, export string
		want         []string
		reject       string
	}{
		{
			name:   "usual name when there is no official one; no gender is unknown",
			export: patient(""),
			want:   []string{`2025-03-03T09:15:02Z index.child.registered {"name":{"given":"Amelia","family":"OKAFOR"},"dob":"2021-03-14","gender":"unknown","address":{"lines":["14 Harehills Lane","Leeds"],"postcode":"LS8 4HS"},"area":"leeds"}`},
		},
		{
			name:   "very restricted",
			export: patient(`,"meta":{"lastUpdated":"2025-03-03T09:15:02Z","security":[{"system":"http://terminology.hl7.org/CodeSystem/v3-Confidentiality","code":"V"}]}`),
			reject: "line 1: the patient is restricted (meta.security V): address, GP practice and phone are never published, and a registration needs an address, so nothing is; tell children's social care by the agreed secure route",
		},
		{
			name:   "a security label of another system is no restriction",
			export: patient(`,"meta":{"lastUpdated":"2025-03-03T09:15:02Z","security":[{"system":"http://example.org/labels","code":"R"}]}`),
			want:   []string{"index.child.registered"},
		},
		{
			name:   "a GP period that has ended is no registration",
			export: patient(`,"generalPractitioner":[{"identifier":{"system":"https://fhir.nhs.uk/Id/ods-organization-code","value":"B86642","period":{"end":"2024-01-01"}}}]`),
			want:   []string{"index.child.registered"},
		},
		{
			name:   "without a practice file the GP is left out",
			export: patient(`,"generalPractitioner":[{"identifier":{"system":"https://fhir.nhs.uk/Id/ods-organization-code","value":"B86642"}}]`),
			want:   []string{"index.child.registered"},
			reject: "line 1: index.gp.recorded left out: generalPractitioner practice B86642 has no contact: no Organization with a telecom comes with the Patient and no practice file was given (--practices epraccur.csv)",
		},
		{
			name:   "an unknown verification status",
			export: strings.Replace(patient(""), `"code":"01"`, `"code":"99"`, 1),
			reject: `line 1: the NHS number's verification status is "99" (not a known status), not 01 (number present and verified)`,
		},
		{
			name:   "a field of the wrong JSON type",
			export: `{"resourceType":"Patient","birthDate":20210314}`,
			reject: "line 1: Patient: birthDate is a JSON number where FHIR has another type",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			events, rejects := readAll(t, pct.Agency{}, "fhir", tt.export)
			if got := strings.Join(rejects, "\n"); got != tt.reject {
				t.Errorf("rejects\n%s\nwant\n%s", got, tt.reject)
			}
			if len(events) != len(tt.want) {
				t.Fatalf("%d events %q, want %d", len(events), events, len(tt.want))
			}
			for i, got := range events {
				if !strings.Contains(got, tt.want[i]) {
					t.Errorf("event %d is\n%s\nwant it to contain\n%s", i, got, tt.want[i])
				}
			}
		})
	}
}

// JSON that breaks off stops the reader after the resources before it.
func TestFHIRBrokenJSON(t *testing.T) {
	r, err := pct.Agency{}.Open("patients.ndjson", strings.NewReader(`{"resourceType":"Observation"}`+"\n"+`{"resourceType":`), "leeds")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := r.Next(); err == nil || !strings.Contains(err.Error(), "line 1: resourceType") {
		t.Fatalf("first Next() = %v, want the Observation rejected", err)
	}
	if _, err := r.Next(); err == nil || !strings.HasPrefix(err.Error(), "reading FHIR JSON after resource 1:") {
		t.Fatalf("second Next() = %v, want the export broken off after resource 1", err)
	}
}
