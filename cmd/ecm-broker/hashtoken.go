package main

import (
	"bufio"
	"fmt"
	"io"
	"strings"

	"github.com/ecm-broker/ecm-broker/broker/config"
)

// hashToken reads a token from in (its first line) and prints its
// token_hash for the configuration, refusing a weak token as --config would
// (docs/security.md):
//
//	head -c 32 /dev/urandom | base64 | tee token.txt | ecm-broker hash-token
func hashToken(args []string, in io.Reader, out io.Writer) error {
	if len(args) > 0 {
		return fmt.Errorf("hash-token: reads the token from standard input, takes no arguments (a token on the command line stays in the shell's history)")
	}
	line, err := bufio.NewReader(io.LimitReader(in, 4096)).ReadString('\n')
	if err != nil && err != io.EOF {
		return fmt.Errorf("hash-token: reading the token: %w", err)
	}
	tok := strings.TrimRight(line, "\r\n")
	if tok == "" {
		return fmt.Errorf("hash-token: no token on standard input")
	}
	if err := config.CheckTokenStrength(tok); err != nil {
		return fmt.Errorf("hash-token: the token %v", err)
	}
	_, err = fmt.Fprintln(out, config.HashToken(tok))
	return err
}
