// Package names makes container ids for the test suites.
package names

import (
	"crypto/rand"
	"encoding/hex"
	"regexp"
	"strings"
	"testing"
)

var nonIDChars = regexp.MustCompile(`[^a-z0-9]+`)

// ContainerID derives a container id from the test's name, after prefix
// and before random hex, so that ids never collide across tests or runs
// and are easy to trace to their test.
func ContainerID(t testing.TB, prefix string) string {
	name := nonIDChars.ReplaceAllString(strings.ToLower(t.Name()), "-")
	name = strings.Trim(strings.TrimPrefix(name, "test"), "-")
	if len(name) > 40 {
		name = name[:40]
	}
	var b [4]byte
	if _, err := rand.Read(b[:]); err != nil {
		t.Fatal(err)
	}
	return prefix + name + "-" + hex.EncodeToString(b[:])
}
