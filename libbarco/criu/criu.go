// Package criu runs the criu binary to checkpoint and restore process trees.
// It turns barco's options into criu's command line, runs it with its log in
// the work directory and, when criu fails, returns an error that carries the
// tail of that log: criu's own message is the only useful explanation.
//
// The command line is used rather than criu's RPC service (criu swrk): it
// needs no protobuf code, and barco has no use for the RPC-only features
// (orphan pty masters, notification callbacks).
package criu

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
)

// DefaultBinary is the criu looked up in PATH when none is given.
const DefaultBinary = "criu"

// Log file names inside the work directory, as runc names them.
const (
	DumpLog    = "dump.log"
	PreDumpLog = "pre-dump.log"
	RestoreLog = "restore.log"
)

// ErrNotFound is returned when the criu binary cannot be found.
var ErrNotFound = errors.New("criu binary not found (install the criu package)")

// LookPath resolves the criu binary: bin itself when it holds a slash,
// otherwise a search of PATH (criu lives in /usr/sbin, which a non-login
// PATH may lack, so that is tried too).
func LookPath(bin string) (string, error) {
	if bin == "" {
		bin = DefaultBinary
	}
	if p, err := exec.LookPath(bin); err == nil {
		return p, nil
	}
	if !strings.Contains(bin, "/") {
		for _, dir := range []string{"/usr/sbin", "/usr/local/sbin", "/sbin"} {
			p := filepath.Join(dir, bin)
			if fi, err := os.Stat(p); err == nil && fi.Mode().IsRegular() && fi.Mode()&0o111 != 0 {
				return p, nil
			}
		}
	}
	return "", fmt.Errorf("%s: %w", bin, ErrNotFound)
}

// Error is a failed criu run.
type Error struct {
	Op      string // dump, pre-dump, restore, check
	LogPath string // criu's log, "" if it has none
	Tail    string // the last lines of the log (or of criu's output)
	Err     error  // how the process ended
}

func (e *Error) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "criu %s failed: %v", e.Op, e.Err)
	if e.LogPath != "" {
		fmt.Fprintf(&b, " (log: %s)", e.LogPath)
	}
	if e.Tail != "" {
		b.WriteString("\n")
		b.WriteString(e.Tail)
	}
	return b.String()
}

func (e *Error) Unwrap() error { return e.Err }

// tailLines is how much of criu's log goes into an error: criu's log ends
// with the error and a few lines of context before it.
const tailLines = 15

// LogTail returns the last n lines of the file at path, or "" if it cannot
// be read. Errors are put first when present: criu logs "Error (file:line)"
// lines that are the cause, and the lines after them are often only the
// unwinding.
func LogTail(path string, n int) string {
	data, err := os.ReadFile(path)
	if err != nil {
		return ""
	}
	return tail(data, n)
}

func tail(data []byte, n int) string {
	var lines []string
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(make([]byte, 64*1024), 1024*1024)
	for sc.Scan() {
		lines = append(lines, sc.Text())
	}
	var errs []string
	for _, l := range lines {
		if strings.Contains(l, "Error (") {
			errs = append(errs, l)
		}
	}
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	// The error lines that scrolled out of the tail come first.
	var out []string
	seen := map[string]bool{}
	for _, l := range lines {
		seen[l] = true
	}
	for _, l := range errs {
		if !seen[l] {
			out = append(out, l)
			seen[l] = true
		}
	}
	out = append(out, lines...)
	return strings.Join(out, "\n")
}

// Check runs `criu check`, which tells whether this kernel has what criu
// needs. Its output is in the error when it fails.
func Check(bin string) error {
	path, err := LookPath(bin)
	if err != nil {
		return err
	}
	out, err := exec.Command(path, "check").CombinedOutput()
	if err != nil {
		return &Error{Op: "check", Tail: strings.TrimSpace(tail(out, tailLines)), Err: err}
	}
	return nil
}
