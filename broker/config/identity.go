package config

import (
	"fmt"

	"github.com/nats-io/nkeys"
)

func CheckNKey(k string) error {
	if !nkeys.IsValidPublicUserKey(k) {
		return fmt.Errorf("%q is not the public key of an NKey user (56 characters starting with U)", k)
	}
	return nil
}

// checkIdentity checks the NKey, if any, of a participant or operator
// (config field f): a user public key nobody else has.
func checkIdentity(f, key, who string, owners map[string]string) error {
	if key == "" {
		return nil
	}
	if err := CheckNKey(key); err != nil {
		return fmt.Errorf("%w: %s.nkey: %v", ErrConfig, f, err)
	}
	if owners[key] != "" {
		return fmt.Errorf("%w: %s.nkey: is the same as %s's", ErrConfig, f, owners[key])
	}
	owners[key] = who
	return nil
}
