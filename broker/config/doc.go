// Package config reads and checks the broker's YAML configuration (who the
// participants and operators are, limits, retention, audit keys) and indexes
// it in a Registry for the lookups every event and request needs. In: a file
// or bytes. Out: a checked *Config, or an error wrapping ErrConfig that names
// the field. It knows nothing of NATS streams or policies.
package config
