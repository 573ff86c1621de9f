// Package uin checks a child's unique identifying number (s.12(4)(e) Children
// Act 2004): ten digits whose last is a mod-11 check digit, computed as for an
// NHS number. Adapters use it before publishing; the broker uses it on ingest.
package uin

import "errors"

// Sentinel errors, so that callers can say which way a UIN is wrong.
var (
	ErrLength     = errors.New("uin must be exactly 10 digits")
	ErrDigits     = errors.New("uin must contain digits only")
	ErrCheckDigit = errors.New("uin check digit does not match (mod 11)")
)

// Check reports why s is not a valid UIN, or nil when it is.
func Check(s string) error {
	if len(s) != 10 {
		return ErrLength
	}
	sum := 0
	for i := 0; i < 10; i++ {
		c := s[i]
		if c < '0' || c > '9' {
			return ErrDigits
		}
		if i < 9 {
			sum += int(c-'0') * (10 - i)
		}
	}
	check := 11 - sum%11
	if check == 11 {
		check = 0
	}
	if check == 10 || check != int(s[9]-'0') {
		return ErrCheckDigit
	}
	return nil
}

// Valid reports whether s is a valid UIN.
func Valid(s string) bool { return Check(s) == nil }

// WithCheckDigit appends the check digit to nine digits, for test data and
// demos. ok is false when no check digit exists for those nine digits.
func WithCheckDigit(nine string) (string, bool) {
	if len(nine) != 9 {
		return "", false
	}
	for d := byte('0'); d <= '9'; d++ {
		if s := nine + string(d); Valid(s) {
			return s, true
		}
	}
	return "", false
}

// Partitions is how many ingest partitions the broker has. Events about one
// child always go to the same partition, so they are processed in order even
// when several broker instances share the work. Changing it re-routes
// children: drain the ingest stream first.
const Partitions = 16

// Partition is the ingest partition of a child, two digits ("00" to "15"):
// an FNV-1a hash of the UIN modulo Partitions. It reveals 4 bits about a UIN,
// too little to single a child out, so it may appear in a subject where the
// UIN itself never may.
func Partition(s string) string {
	h := uint32(2166136261)
	for i := 0; i < len(s); i++ {
		h ^= uint32(s[i])
		h *= 16777619
	}
	p := h % Partitions
	return string([]byte{byte('0' + p/10), byte('0' + p%10)})
}
