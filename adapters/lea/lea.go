package lea

import (
	"fmt"
	"io"
	"path/filepath"
	"strings"

	"github.com/ecm-broker/ecm-broker/adapters"
	"github.com/ecm-broker/ecm-broker/schemas"
)

// agency is this adapter's agency kind, the last segment of its sources.
const agency = schemas.LEA

// Agency reads LEA exports. Its zero value is ready to use.
type Agency struct{}

// Name returns "lea".
func (Agency) Name() string { return agency }

// Open chooses the format by hint: a .csv whose name contains "census" is a
// school census, one whose name contains "exclusions" or "missing" a list of
// exclusions and children missing education; the bare names "census",
// "exclusions" and "missing" choose the same. Open reads the header row.
func (Agency) Open(hint string, r io.Reader, area string) (adapters.Reader, error) {
	if !areaRE.MatchString(area) {
		return nil, fmt.Errorf("lea: area %q is not an area slug (like leeds)", area)
	}
	name := strings.ToLower(filepath.Base(hint))
	csv := strings.HasSuffix(name, ".csv")
	switch {
	case name == "census" || csv && strings.Contains(name, "census"):
		return newCensusReader(r, area)
	case name == "exclusions" || name == "missing" ||
		csv && (strings.Contains(name, "exclusions") || strings.Contains(name, "missing")):
		return newExclusionsReader(r, area)
	}
	return nil, fmt.Errorf("lea: %s is neither a census CSV (*census*.csv) nor an exclusions or missing CSV (*exclusions*.csv, *missing*.csv)", hint)
}

var _ adapters.Agency = Agency{}
