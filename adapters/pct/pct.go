package pct

import (
	"fmt"
	"io"
	"path/filepath"
	"strings"

	"github.com/ecm-broker/ecm-broker/adapters"
	"github.com/ecm-broker/ecm-broker/schemas"
)

// agency is this adapter's agency kind, the last segment of its sources.
const agency = schemas.PCT

// Agency reads PCT exports. Its zero value is ready to use; without
// Practices, an HL7 message's GP practice is published only when the message
// carries its contact in a ZGP segment.
type Agency struct {
	// Practices is the NHS ODS practice file (epraccur.csv) that gives a
	// practice's name and phone number by its code (--practices).
	Practices *Practices
}

// Name returns "pct".
func (Agency) Name() string { return agency }

// Open chooses the format by hint: a name ending in .hl7 is HL7 v2, one
// ending in .json or .ndjson FHIR R4 (UK Core Patients and Bundles), a .csv
// whose name contains "involvements" the health visitor involvements CSV,
// whose header row Open reads; the bare names "hl7", "fhir" and
// "involvements" choose the same.
func (a Agency) Open(hint string, r io.Reader, area string) (adapters.Reader, error) {
	if !areaRE.MatchString(area) {
		return nil, fmt.Errorf("pct: area %q is not an area slug (like leeds)", area)
	}
	name := strings.ToLower(filepath.Base(hint))
	switch {
	case name == "hl7" || strings.HasSuffix(name, ".hl7"):
		return newHL7Reader(r, area, a.Practices), nil
	case name == "involvements" || strings.HasSuffix(name, ".csv") && strings.Contains(name, "involvements"):
		return newInvolvementsReader(r, area)
	case name == "fhir" || strings.HasSuffix(name, ".json") || strings.HasSuffix(name, ".ndjson"):
		return newFHIRReader(r, area, a.Practices), nil
	}
	return nil, fmt.Errorf("pct: %s is neither HL7 (*.hl7), FHIR JSON (*.json) nor an involvements CSV (*involvements*.csv)", hint)
}

var _ adapters.Agency = Agency{}
