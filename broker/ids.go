package broker

import (
	"crypto/rand"
	"encoding/hex"
)

// randomHex is n random bytes in hex: ids of actions, instances, passwords.
func randomHex(n int) string {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		panic(err)
	}
	return hex.EncodeToString(b)
}
