package state

import (
	"errors"
	"fmt"
)

// Sentinel errors the CLI and the engine branch on (exit codes, runc's messages).
var (
	ErrNotExist   = errors.New("container does not exist")
	ErrExist      = errors.New("container already exists")
	ErrInvalidID  = errors.New("invalid container id")
	ErrNotCreated = errors.New("container is being created")
)

// containerError names the container in its message while still matching a
// sentinel with errors.Is: `container "x" does not exist` reads better than
// `container "x": container does not exist`.
type containerError struct {
	id     string
	reason string
	kind   error
}

func (e *containerError) Error() string {
	return fmt.Sprintf("container %q %s", quotableID(e.id), e.reason)
}

func (e *containerError) Unwrap() error { return e.kind }

func errNotExist(id string) error {
	return &containerError{id: id, reason: "does not exist", kind: ErrNotExist}
}

func errExist(id string) error {
	return &containerError{id: id, reason: "already exists", kind: ErrExist}
}

func errNotCreated(id string) error {
	return &containerError{id: id, reason: "is being created", kind: ErrNotCreated}
}

// quotableID shortens an id for messages so a hostile 1 MiB argument does not
// flood the terminal.
func quotableID(id string) string {
	const max = 64
	if len(id) <= max {
		return id
	}
	return id[:max] + "..."
}
