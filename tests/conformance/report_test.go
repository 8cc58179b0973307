package main

import (
	"bytes"
	"reflect"
	"strings"
	"testing"
	"time"
)

func pass(desc string) assertion { return assertion{Desc: desc, Status: statusPass} }
func fail(desc string) assertion { return assertion{Desc: desc, Status: statusFail} }
func skip(desc string) assertion { return assertion{Desc: desc, Status: statusSkip} }

func TestProgramFailures(t *testing.T) {
	cases := []struct {
		name   string
		res    testResult
		want   []string
		silent bool
	}{
		{"clean", testResult{TAP: tapStream{Plan: 1, Assertions: []assertion{pass("a")}}}, nil, false},
		{"timeout wins over exit", testResult{TimedOut: true, Exit: "killed by SIGKILL", Duration: 60 * time.Second}, []string{"timed out after 1m0s"}, false},
		{"exit status", testResult{Exit: "exit status 1", TAP: tapStream{Plan: -1}}, []string{"program failed: exit status 1"}, false},
		{"bail out", testResult{TAP: tapStream{Plan: -1, BailOut: "boom"}}, []string{"bailed out: boom"}, false},
		{"plan mismatch", testResult{TAP: tapStream{Plan: 3, Assertions: []assertion{pass("a")}}}, []string{"planned 3 assertions, ran 1"}, false},
		{"assertions without plan", testResult{TAP: tapStream{Plan: -1, Assertions: []assertion{pass("a")}}}, []string{"no TAP plan"}, false},
		{"errors without assertions", testResult{TAP: tapStream{Plan: 0, Errors: []string{"Hooks MUST be called\nRefer to: x", "second"}}}, []string{"error: Hooks MUST be called", "error: second"}, false},
		{"silent exit 0", testResult{TAP: tapStream{Plan: -1}}, nil, true},
		{"empty plan exit 0", testResult{TAP: tapStream{Plan: 0}}, nil, true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if got := programFailures(c.res); !reflect.DeepEqual(got, c.want) {
				t.Errorf("programFailures = %q, want %q", got, c.want)
			}
			if got := silentPass(c.res); got != c.silent {
				t.Errorf("silentPass = %v, want %v", got, c.silent)
			}
		})
	}
}

func TestMatchKnownBad(t *testing.T) {
	list := []knownBad{
		{Test: "linux_cgroups_pids", Reason: "v1"},
		{Test: "process_rlimits", Assertion: "has expected soft RLIMIT_NOFILE", Reason: "go"},
	}
	cases := []struct {
		test, desc string
		want       int
	}{
		{"linux_cgroups_pids", "pids limit is set correctly", 0},
		{"linux_cgroups_pids", "program failed: exit status 1", 0},
		{"process_rlimits", "has expected soft RLIMIT_NOFILE", 1},
		{"process_rlimits", "has expected hard RLIMIT_NOFILE", -1},
		{"process", "has expected soft RLIMIT_NOFILE", -1},
	}
	for _, c := range cases {
		if got := matchKnownBad(list, c.test, c.desc); got != c.want {
			t.Errorf("matchKnownBad(%q, %q) = %d, want %d", c.test, c.desc, got, c.want)
		}
	}
}

func TestSummarize(t *testing.T) {
	list := []knownBad{
		{Test: "process_rlimits", Assertion: "has expected soft RLIMIT_NOFILE", Reason: "go"},
		{Test: "linux_cgroups_pids", Reason: "v1"},
		{Test: "state", Assertion: "gone", Reason: "fixed meanwhile"},
		{Test: "linux_ns_path", Assertion: "never reached", Reason: "program died first"},
	}
	results := []testResult{
		{Name: "process_rlimits", TAP: tapStream{Plan: 4, Assertions: []assertion{
			pass("a"), fail("has expected soft RLIMIT_NOFILE"), fail("has expected hard RLIMIT_NOFILE"), skip("c"),
		}}},
		{Name: "linux_cgroups_pids", Exit: "exit status 1", TAP: tapStream{Plan: -1}},
		{Name: "state", TAP: tapStream{Plan: 1, Assertions: []assertion{pass("gone")}}},
		{Name: "linux_ns_path", Exit: "exit status 2", TAP: tapStream{Plan: -1}},
		{Name: "delete_only_create_resources", Excluded: "writes cgroup v1"},
		{Name: "process_capabilities_fail", TAP: tapStream{Plan: -1}},
	}
	s := summarize(results, list)
	if s.Passed != 3 || s.Failed != 2 || s.KnownBad != 2 || s.Skipped != 1 {
		t.Errorf("counts: passed %d failed %d known-bad %d skipped %d, want 3 2 2 1", s.Passed, s.Failed, s.KnownBad, s.Skipped)
	}
	var barco []string
	for _, f := range s.Failures {
		if f.KnownBad == nil {
			barco = append(barco, f.Test+": "+f.Desc)
		}
	}
	wantBarco := []string{"process_rlimits: has expected hard RLIMIT_NOFILE", "linux_ns_path: program failed: exit status 2"}
	if !reflect.DeepEqual(barco, wantBarco) {
		t.Errorf("barco failures = %q, want %q", barco, wantBarco)
	}
	// The entry of a program that died is not stale: its assertion was
	// never evaluated.
	if len(s.Stale) != 1 || s.Stale[0].Test != "state" {
		t.Errorf("stale = %+v, want only the state entry", s.Stale)
	}
	if got := s.Rows[4].Note; !strings.HasPrefix(got, "not run: ") {
		t.Errorf("excluded row note = %q", got)
	}
	if got := s.Rows[5]; got.OK != 1 || got.Note != "passed without TAP assertions" {
		t.Errorf("silent pass row = %+v", got)
	}
}

func TestSummaryWriteLastLine(t *testing.T) {
	s := summarize([]testResult{
		{Name: "a", TAP: tapStream{Plan: 2, Assertions: []assertion{pass("x"), fail("y")}}},
	}, nil)
	var buf bytes.Buffer
	s.write(&buf, 5)
	lines := strings.Split(strings.TrimRight(buf.String(), "\n"), "\n")
	if last := lines[len(lines)-1]; last != "1 passed, 1 failed" {
		t.Errorf("last line = %q, want %q", last, "1 passed, 1 failed")
	}
	if !strings.Contains(buf.String(), "--- a: y") {
		t.Errorf("failure not listed:\n%s", buf.String())
	}
}

func TestTruncateAndTail(t *testing.T) {
	if got := truncate("abcdef", 3); got != "abc [...]" {
		t.Errorf("truncate = %q", got)
	}
	if got := truncate("abc", 3); got != "abc" {
		t.Errorf("truncate short = %q", got)
	}
	if got := tailLines("a\n\nb\nc\n", 2); !reflect.DeepEqual(got, []string{"b", "c"}) {
		t.Errorf("tailLines = %q", got)
	}
}
