package specconv

import (
	"errors"
	"fmt"
)

// ErrUnsupported marks a field barco understands but cannot honour; the
// spec requires an error rather than silently running without it.
var ErrUnsupported = errors.New("not supported")

// FieldError is a validation failure of one field of config.json. Path is
// the JSON path of the field ("mounts[3].destination"), so that a user can
// find the culprit in a long file.
type FieldError struct {
	Path string
	Err  error
}

func (e *FieldError) Error() string { return e.Path + ": " + e.Err.Error() }

func (e *FieldError) Unwrap() error { return e.Err }

// fieldErr builds a FieldError; the format follows fmt.Errorf, %w included.
func fieldErr(path, format string, args ...any) error {
	return &FieldError{Path: path, Err: fmt.Errorf(format, args...)}
}

// index appends a list index to a JSON path: index("mounts", 3) is "mounts[3]".
func index(path string, i int) string { return fmt.Sprintf("%s[%d]", path, i) }
