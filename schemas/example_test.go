package schemas_test

import (
	"fmt"
	"time"

	"github.com/ecm-broker/ecm-broker/schemas"
)

func ExampleValidate() {
	now := time.Date(2026, 5, 2, 10, 0, 0, 0, time.UTC)
	data := []byte(`{
		"name": {"given": "Amy", "family": "Adams"},
		"dob": "2026-06-01",
		"gender": "female",
		"address": {"lines": ["14 Park Row"]},
		"area": "leeds",
		"notes": "quiet in class"
	}`)
	for _, p := range schemas.Validate("uk.gov.ecm.index.child.registered.v1", data, now) {
		fmt.Println(p)
	}
	// Output:
	// data.address.postcode: required
	// data.dob: must not be in the future
	// data: unknown field "notes" (index events carry s.12(4) basic data only)
}

func ExampleLookup() {
	e, ok := schemas.Lookup("uk.gov.ecm.education.missing.v1")
	fmt.Println(ok, e.Name, e.Purpose, e.Index, e.Publishers, e.SchemaID())
	fmt.Println(e.MayPublish(schemas.LEA), e.MayPublish(schemas.Police))
	// Output:
	// true education.missing education false [lea] urn:uk.gov.ecm:schema:education.missing.v1
	// true false
}
