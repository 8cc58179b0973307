package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"regexp"
	"strconv"
	"strings"
)

// status is what one TAP test line reports.
type status int

const (
	statusPass status = iota
	statusFail
	statusSkip // "ok N # SKIP ..."; a skipped check is neither passed nor failed
	statusTodo // "# TODO": by TAP's rules a failure here does not count
)

// assertion is one "ok"/"not ok" line of a TAP stream.
type assertion struct {
	Num       int
	Desc      string
	Status    status
	Directive string   // the text after "# SKIP" or "# TODO"
	Detail    []string // the YAML block and "#" diagnostics that follow the line
}

// tapStream is a parsed TAP stream.
type tapStream struct {
	Plan       int // -1 when the stream has no plan line
	Assertions []assertion
	BailOut    string // the reason of a "Bail out!" line, if any
	// Errors are the "error" fields of the YAML blocks that come before
	// any assertion. Several validation programs (the hook ones) report
	// their only check this way, with no "not ok" line.
	Errors []string
}

var (
	planLine = regexp.MustCompile(`^1\.\.(\d+)`)
	testLine = regexp.MustCompile(`^(not ok|ok)\b[ \t]*(\d+)?[ \t]*(?:-[ \t]*)?(.*)$`)
)

// parseTAP reads a TAP stream. Only top-level lines count: runtimetest's
// own TAP, when a validation program embeds it, sits indented inside a YAML
// block and becomes detail of the assertion that carries it.
func parseTAP(r io.Reader) (tapStream, error) {
	s := tapStream{Plan: -1}
	var block []string // the YAML block being read before the first assertion
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64*1024), 16*1024*1024)
	for sc.Scan() {
		line := strings.TrimRight(sc.Text(), "\r")
		switch {
		case strings.HasPrefix(line, "TAP version"):
		case strings.HasPrefix(line, "Bail out!"):
			s.BailOut = strings.TrimSpace(strings.TrimPrefix(line, "Bail out!"))
			if s.BailOut == "" {
				s.BailOut = "no reason given"
			}
		case planLine.MatchString(line):
			n, err := strconv.Atoi(planLine.FindStringSubmatch(line)[1])
			if err != nil {
				return s, fmt.Errorf("plan %q: %w", line, err)
			}
			s.Plan = n
		case testLine.MatchString(line):
			s.Assertions = append(s.Assertions, parseTestLine(testLine.FindStringSubmatch(line)))
		case len(s.Assertions) > 0:
			if strings.TrimSpace(line) != "" {
				n := len(s.Assertions)
				s.Assertions[n-1].Detail = append(s.Assertions[n-1].Detail, line)
			}
		case strings.TrimSpace(line) == "---":
			block = []string{}
		case strings.TrimSpace(line) == "...":
			if msg := yamlError(block); msg != "" {
				s.Errors = append(s.Errors, msg)
			}
			block = nil
		case block != nil:
			block = append(block, line)
		}
	}
	if err := sc.Err(); err != nil {
		return s, fmt.Errorf("read tap: %w", err)
	}
	return s, nil
}

// yamlError returns the "error" field of a YAML block, or "". The suite
// writes its YAML blocks as JSON, which is YAML too; a block that is not
// JSON has no error field we can read.
func yamlError(block []string) string {
	var fields map[string]any
	if err := json.Unmarshal([]byte(strings.Join(block, "\n")), &fields); err != nil {
		return ""
	}
	msg, _ := fields["error"].(string)
	return strings.TrimSpace(msg)
}

// parseTestLine turns the groups of testLine into an assertion.
func parseTestLine(m []string) assertion {
	a := assertion{Status: statusPass}
	if m[1] == "not ok" {
		a.Status = statusFail
	}
	if m[2] != "" {
		a.Num, _ = strconv.Atoi(m[2]) // the pattern admits digits only
	}
	desc := m[3]
	if i, kind, text := findDirective(desc); i >= 0 {
		a.Directive = text
		desc = desc[:i]
		switch kind {
		case "skip":
			a.Status = statusSkip
		case "todo":
			a.Status = statusTodo
		}
	}
	a.Desc = strings.TrimSpace(desc)
	return a
}

// findDirective finds a "# SKIP" or "# TODO" directive (any case) in the
// description part of a test line. A "#" followed by anything else is part
// of the description.
func findDirective(desc string) (at int, kind, text string) {
	for i := 0; i < len(desc); i++ {
		if desc[i] != '#' {
			continue
		}
		rest := strings.TrimSpace(desc[i+1:])
		for _, k := range []string{"skip", "todo"} {
			if len(rest) >= len(k) && strings.EqualFold(rest[:len(k)], k) {
				return i, k, strings.TrimSpace(rest[len(k):])
			}
		}
	}
	return -1, "", ""
}
