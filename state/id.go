package state

import (
	"fmt"
)

// MaxIDLen bounds an id: it names a directory, and a file name has at most
// 255 bytes (NAME_MAX).
const MaxIDLen = 255

// ValidateID checks that id is safe to use as a single directory name under
// the root: no separators, no traversal, no hidden or special names.
func ValidateID(id string) error {
	switch {
	case id == "":
		return invalidID(id, "must not be empty")
	case len(id) > MaxIDLen:
		return invalidID(id, fmt.Sprintf("longer than %d bytes", MaxIDLen))
	}
	for i := 0; i < len(id); i++ {
		if !idByte(id[i]) {
			return invalidID(id, `only letters, digits, '_', '+', '-', '.' allowed`)
		}
	}
	// Covers "." and ".." too, and keeps temporary files (dot-prefixed) apart
	// from containers in List.
	if id[0] == '.' {
		return invalidID(id, "must not start with '.'")
	}
	return nil
}

func idByte(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' ||
		c == '_' || c == '+' || c == '-' || c == '.'
}

func invalidID(id, reason string) error {
	return fmt.Errorf("%w %q: %s", ErrInvalidID, quotableID(id), reason)
}
