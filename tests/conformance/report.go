package main

import (
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"
)

// testResult is what one validation program did.
type testResult struct {
	Name     string
	TAP      tapStream
	Exit     string // how the program ended when it did not exit 0 (describeExit), or why it could not run
	TimedOut bool
	Duration time.Duration
	Stderr   string   // the tail of its standard error
	Leaked   []string // containers it left behind, deleted by the runner
	Orphans  int      // processes it left running, killed by the runner
	Excluded string   // why it was not run at all
}

// failure is a failed assertion, or a program that failed outside its TAP.
type failure struct {
	Test     string
	Desc     string
	Detail   []string
	KnownBad *knownBad // the entry that excuses it, if any
}

// row is one line of the table.
type row struct {
	Test                            string
	OK, NotOK, KnownBad, Skip, Todo int
	Duration                        time.Duration
	Note                            string
}

// summary is the outcome of a run.
type summary struct {
	Rows     []row
	Passed   int // assertions that passed
	Failed   int // failures outside the known-bad list: barco's
	KnownBad int // failures excused by the known-bad list
	Skipped  int // skipped and TODO assertions
	Failures []failure
	// Stale lists known-bad entries of programs that ran to their end
	// but did not fail as listed: the suite or barco changed, and the
	// entry should go.
	Stale []knownBad
}

// summarize counts the results. A program that exits non-zero, times out,
// bails out or runs a number of assertions other than its plan counts as
// one failure besides its assertions, since a crash must not pass silently.
func summarize(results []testResult, list []knownBad) summary {
	var s summary
	used := make([]bool, len(list))
	ran := map[string]bool{}
	for _, res := range results {
		r := row{Test: res.Name, Duration: res.Duration}
		if res.Excluded != "" {
			r.Note = "not run: " + res.Excluded
			s.Rows = append(s.Rows, r)
			continue
		}
		// Only a program that ran to its end can show an entry is stale.
		ran[res.Name] = len(programFailures(res)) == 0
		var fails []failure
		for _, a := range res.TAP.Assertions {
			switch a.Status {
			case statusPass:
				r.OK++
			case statusSkip:
				r.Skip++
			case statusTodo:
				r.Todo++
			case statusFail:
				fails = append(fails, failure{Test: res.Name, Desc: a.Desc, Detail: a.Detail})
			}
		}
		if silentPass(res) {
			r.OK++
			r.Note = "passed without TAP assertions"
		}
		for _, desc := range programFailures(res) {
			r.Note = strings.TrimPrefix(r.Note+"; "+desc, "; ")
			fails = append(fails, failure{Test: res.Name, Desc: desc, Detail: tailLines(res.Stderr, 20)})
		}
		if len(res.Leaked) > 0 {
			r.Note = strings.TrimPrefix(r.Note+"; left containers behind", "; ")
		}
		if res.Orphans > 0 {
			r.Note = strings.TrimPrefix(r.Note+"; left processes running", "; ")
		}
		for _, f := range fails {
			if i := matchKnownBad(list, f.Test, f.Desc); i >= 0 {
				used[i] = true
				f.KnownBad = &list[i]
				r.KnownBad++
			} else {
				r.NotOK++
			}
			s.Failures = append(s.Failures, f)
		}
		s.Passed += r.OK
		s.Failed += r.NotOK
		s.KnownBad += r.KnownBad
		s.Skipped += r.Skip + r.Todo
		s.Rows = append(s.Rows, r)
	}
	for i, kb := range list {
		if !used[i] && ran[kb.Test] {
			s.Stale = append(s.Stale, kb)
		}
	}
	return s
}

// programFailures describes how a program failed outside its assertions:
// a crash, a timeout, a bail-out, a plan it did not keep, or errors it
// reported in YAML blocks without any assertion.
func programFailures(res testResult) []string {
	t := res.TAP
	switch {
	case res.TimedOut:
		return []string{"timed out after " + res.Duration.Round(time.Second).String()}
	case res.Exit != "":
		return []string{"program failed: " + res.Exit}
	case t.BailOut != "":
		return []string{"bailed out: " + t.BailOut}
	case len(t.Assertions) == 0:
		var fails []string
		for _, e := range t.Errors {
			fails = append(fails, "error: "+firstLine(e))
		}
		return fails
	case t.Plan < 0:
		return []string{"no TAP plan"}
	case t.Plan != len(t.Assertions):
		return []string{fmt.Sprintf("planned %d assertions, ran %d", t.Plan, len(t.Assertions))}
	}
	return nil
}

// silentPass tells whether a program passed without a single assertion:
// several programs only exit 0 (or print a bare plan) when all is well.
// It then counts as one passed check.
func silentPass(res testResult) bool {
	return len(res.TAP.Assertions) == 0 && len(programFailures(res)) == 0
}

func firstLine(s string) string {
	line, _, _ := strings.Cut(s, "\n")
	return strings.TrimSpace(line)
}

// tailLines returns the last n non-empty lines of text.
func tailLines(text string, n int) []string {
	var lines []string
	for _, l := range strings.Split(text, "\n") {
		if strings.TrimSpace(l) != "" {
			lines = append(lines, l)
		}
	}
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return lines
}

// write prints the failures, the table and the totals. The last line is
// "N passed, M failed", M counting only failures outside the known-bad list.
func (s summary) write(w io.Writer, detailLines int) {
	var barco, excused []failure
	for _, f := range s.Failures {
		if f.KnownBad == nil {
			barco = append(barco, f)
		} else {
			excused = append(excused, f)
		}
	}
	if len(barco) > 0 {
		fmt.Fprintf(w, "\nFAILURES (%d):\n", len(barco))
		for _, f := range barco {
			fmt.Fprintf(w, "--- %s: %s\n", f.Test, f.Desc)
			detail := f.Detail
			if len(detail) > detailLines {
				detail = append(detail[:detailLines:detailLines], fmt.Sprintf("    ... %d more lines in the log", len(f.Detail)-detailLines))
			}
			for _, l := range detail {
				fmt.Fprintf(w, "    %s\n", truncate(l, 300))
			}
		}
	}
	if len(excused) > 0 {
		fmt.Fprintf(w, "\nKNOWN-BAD (%d, not counted as failures):\n", len(excused))
		for _, f := range excused {
			fmt.Fprintf(w, "--- %s: %s\n    known bad: %s\n", f.Test, f.Desc, f.KnownBad.Reason)
		}
	}
	if len(s.Stale) > 0 {
		fmt.Fprintf(w, "\nSTALE KNOWN-BAD ENTRIES (they no longer fail; remove them):\n")
		for _, kb := range s.Stale {
			fmt.Fprintf(w, "--- %s: %s\n", kb.Test, orAny(kb.Assertion))
		}
	}
	fmt.Fprintln(w)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "TEST\tOK\tNOT OK\tKNOWN-BAD\tSKIP\tTIME\tNOTE")
	var total row
	for _, r := range s.Rows {
		fmt.Fprintf(tw, "%s\t%d\t%d\t%d\t%d\t%s\t%s\n", r.Test, r.OK, r.NotOK, r.KnownBad, r.Skip+r.Todo, r.Duration.Round(100*time.Millisecond), r.Note)
		total.Duration += r.Duration
	}
	fmt.Fprintf(tw, "TOTAL\t%d\t%d\t%d\t%d\t%s\t\n", s.Passed, s.Failed, s.KnownBad, s.Skipped, total.Duration.Round(time.Second))
	tw.Flush()
	fmt.Fprintf(w, "\nknown-bad: %d, skipped: %d\n", s.KnownBad, s.Skipped)
	fmt.Fprintf(w, "%d passed, %d failed\n", s.Passed, s.Failed)
}

// truncate shortens a line to at most n bytes, marking the cut.
func truncate(line string, n int) string {
	if len(line) <= n {
		return line
	}
	return line[:n] + " [...]"
}

func orAny(assertion string) string {
	if assertion == "" {
		return "(any failure)"
	}
	return assertion
}
