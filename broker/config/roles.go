package config

import (
	"fmt"
	"slices"
	"strings"
)

// Role is what an operator may do beyond reading. Every operator may read
// (audit, dead letters, subject access, decide, verify, metrics); the others
// must be given in the configuration: roles: [read, replay, policy, erase].
type Role string

const (
	// RoleRead reads: every operator has it, listed or not.
	RoleRead Role = "read"
	// RoleReplay sends recorded events again (replay, backfill).
	RoleReplay Role = "replay"
	// RolePolicy reloads the policy and runs impact analyses of drafts.
	RolePolicy Role = "policy"
	// RoleErase erases a child's data.
	RoleErase Role = "erase"
)

// Roles are every role, in the order the docs list them.
var Roles = []Role{RoleRead, RoleReplay, RolePolicy, RoleErase}

// Has reports whether the operator has role r (read always).
func (o Operator) Has(r Role) bool { return r == RoleRead || slices.Contains(o.Roles, r) }

// checkRoles checks an operator's roles (config field f).
func checkRoles(f string, roles []Role) error {
	seen := map[Role]bool{}
	for i, r := range roles {
		if !slices.Contains(Roles, r) {
			names := make([]string, len(Roles))
			for i, r := range Roles {
				names[i] = string(r)
			}
			return fmt.Errorf("%w: %s.roles[%d]: %q is not one of %s", ErrConfig, f, i, r, strings.Join(names, ", "))
		}
		if seen[r] {
			return fmt.Errorf("%w: %s.roles[%d]: %q is given twice", ErrConfig, f, i, r)
		}
		seen[r] = true
	}
	return nil
}
