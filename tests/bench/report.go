package main

import (
	"fmt"
	"io"
	"math"
	"slices"
	"strings"
	"time"
)

// sample is one measured operation.
type sample struct {
	wall    time.Duration
	cpu     time.Duration // user+sys of every process involved
	peakRSS int64         // bytes, the largest of any process; 0 if unknown
}

// results are the samples of every cell by runtime name.
type results struct {
	samples     map[string]map[string][]sample
	createdRSS  map[string][]int64 // bytes held by each created container
	createdAnon map[string][]int64 // the anonymous part of createdRSS
}

func newResults() *results {
	return &results{samples: map[string]map[string][]sample{}, createdRSS: map[string][]int64{}, createdAnon: map[string][]int64{}}
}

func (r *results) add(cell, rt string, s sample) {
	if r.samples[cell] == nil {
		r.samples[cell] = map[string][]sample{}
	}
	r.samples[cell][rt] = append(r.samples[cell][rt], s)
}

// median of the values; NaN for none.
func median(v []float64) float64 {
	if len(v) == 0 {
		return math.NaN()
	}
	s := slices.Clone(v)
	slices.Sort(s)
	n := len(s)
	if n%2 == 1 {
		return s[n/2]
	}
	return (s[n/2-1] + s[n/2]) / 2
}

const mib = 1 << 20

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

// metric picks one number of every sample of a cell.
type metric struct {
	cell string
	pick func(sample) float64
}

// row is one line of the table: a value per runtime and a target for
// barco, if the issue sets one.
type row struct {
	label  string
	unit   string
	value  func(r *results, rt string) float64 // NaN when not measured
	target target
}

// target is a bound on barco's value: a factor of another runtime's value
// (the reference) or an absolute limit.
type target struct {
	bounds []bound
}

type bound struct {
	ref    string  // runtime name; "" for an absolute limit
	factor float64 // barco ≤ factor × ref, or barco ≤ factor when absolute
}

func (t target) String() string {
	if len(t.bounds) == 0 {
		return ""
	}
	var parts []string
	for _, b := range t.bounds {
		switch {
		case b.ref == "":
			parts = append(parts, fmt.Sprintf("≤ %g", b.factor))
		case b.factor == 1:
			parts = append(parts, "≤ "+b.ref)
		default:
			parts = append(parts, fmt.Sprintf("≤ %g× %s", b.factor, b.ref))
		}
	}
	return strings.Join(parts, ", ")
}

// verdict is PASS or FAIL, or "n/a" when a value it needs is missing.
func (t target) verdict(values map[string]float64) string {
	if len(t.bounds) == 0 {
		return ""
	}
	v, ok := values["barco"]
	if !ok || math.IsNaN(v) {
		return "n/a"
	}
	pass := true
	for _, b := range t.bounds {
		limit := b.factor
		if b.ref != "" {
			ref, ok := values[b.ref]
			if !ok || math.IsNaN(ref) {
				return "n/a"
			}
			limit *= ref
		}
		pass = pass && v <= limit
	}
	if pass {
		return "PASS"
	}
	return "FAIL"
}

func medianOf(m metric) func(r *results, rt string) float64 {
	return func(r *results, rt string) float64 {
		var v []float64
		for _, s := range r.samples[m.cell][rt] {
			v = append(v, m.pick(s))
		}
		return median(v)
	}
}

func wallMs(s sample) float64 { return ms(s.wall) }
func cpuMs(s sample) float64  { return ms(s.cpu) }

var notSlower = target{bounds: []bound{{ref: "crun", factor: 1}}}

// tableRows are the rows of the table, with the targets of issue 9.
func tableRows(o options) []row {
	rows := []row{
		{label: "run /bin/true, wall", unit: "ms", value: medianOf(metric{"run", wallMs}), target: notSlower},
		{label: "run /bin/true, CPU", unit: "ms", value: medianOf(metric{"run", cpuMs}),
			target: target{bounds: []bound{{ref: "crun", factor: 0.8}, {ref: "runc", factor: 0.35}}}},
	}
	for _, c := range []struct{ cell, label string }{
		{"create", "create"},
		{"start", "start"},
		{"delete", "delete"},
		{"exec", "exec /bin/true"},
		{"state", fmt.Sprintf("state, %d containers", o.queryN)},
		{"list", fmt.Sprintf("list, %d containers", o.queryN)},
		{"concurrent", fmt.Sprintf("%d × create+start at once", o.concN)},
	} {
		rows = append(rows,
			row{label: c.label + ", wall", unit: "ms", value: medianOf(metric{c.cell, wallMs}), target: notSlower},
			row{label: c.label + ", CPU", unit: "ms", value: medianOf(metric{c.cell, cpuMs}), target: notSlower})
	}
	rows = append(rows,
		row{label: "peak RSS, any process", unit: "MiB", value: peakOfAll,
			target: target{bounds: []bound{{factor: 5}}}},
		row{label: "created container holds", unit: "MiB", value: medianMiB(func(r *results) map[string][]int64 { return r.createdRSS }),
			target: target{bounds: []bound{{factor: 3}}}},
		// Not a target: the part no other container shares through the
		// page cache, where the binary's pages are.
		row{label: "… of it anonymous", unit: "MiB", value: medianMiB(func(r *results) map[string][]int64 { return r.createdAnon })},
	)
	return rows
}

func medianMiB(of func(*results) map[string][]int64) func(r *results, rt string) float64 {
	return func(r *results, rt string) float64 {
		var v []float64
		for _, b := range of(r)[rt] {
			v = append(v, float64(b)/mib)
		}
		return median(v)
	}
}

// peakOfAll is the largest peak RSS of any process in any measured
// operation of a runtime.
func peakOfAll(r *results, rt string) float64 {
	peak, any := int64(0), false
	for _, byRT := range r.samples {
		for _, s := range byRT[rt] {
			if s.peakRSS > 0 {
				peak, any = max(peak, s.peakRSS), true
			}
		}
	}
	if !any {
		return math.NaN()
	}
	return float64(peak) / mib
}

// ratio formats a/b; "–" when either is missing.
func ratio(a, b float64) string {
	if math.IsNaN(a) || math.IsNaN(b) || b == 0 {
		return "–"
	}
	return fmt.Sprintf("%.2f", a/b)
}

func num(v float64) string {
	if math.IsNaN(v) {
		return "–"
	}
	if v >= 100 {
		return fmt.Sprintf("%.0f", v)
	}
	return fmt.Sprintf("%.1f", v)
}

// tally counts the verdicts of a table.
type tally struct{ pass, fail, na int }

// writeTable writes the Markdown table of medians and returns the tally of
// the targets.
func writeTable(w io.Writer, rows []row, r *results, names []string) tally {
	var t tally
	head := []string{"cell"}
	head = append(head, names...)
	head = append(head, "barco/crun", "barco/runc", "target (barco)", "result")
	fmt.Fprintln(w, "| "+strings.Join(head, " | ")+" |")
	sep := make([]string, len(head))
	for i := range sep {
		sep[i] = "---"
		if i > 0 && i <= len(names)+2 {
			sep[i] = "---:"
		}
	}
	fmt.Fprintln(w, "|"+strings.Join(sep, "|")+"|")
	for _, rw := range rows {
		values := map[string]float64{}
		cells := []string{fmt.Sprintf("%s (%s)", rw.label, rw.unit)}
		for _, n := range names {
			values[n] = rw.value(r, n)
			cells = append(cells, num(values[n]))
		}
		cells = append(cells, ratioOf(values, "crun"), ratioOf(values, "runc"))
		v := rw.target.verdict(values)
		switch v {
		case "PASS":
			t.pass++
		case "FAIL":
			t.fail++
		case "n/a":
			t.na++
		}
		cells = append(cells, rw.target.String(), v)
		fmt.Fprintln(w, "| "+strings.Join(cells, " | ")+" |")
	}
	return t
}

func ratioOf(values map[string]float64, ref string) string {
	b, ok := values["barco"]
	r, ok2 := values[ref]
	if !ok || !ok2 {
		return "–"
	}
	return ratio(b, r)
}

// writePeaks writes the largest peak RSS per cell and runtime: where the
// memory goes, beside the table's single maximum.
func writePeaks(w io.Writer, r *results, names []string) {
	cells := []string{"run", "create", "start", "delete", "exec", "state", "list"}
	fmt.Fprintln(w, "| peak RSS (MiB) | "+strings.Join(names, " | ")+" |")
	fmt.Fprintln(w, "|---|"+strings.Repeat("---:|", len(names)))
	for _, c := range cells {
		line := []string{c}
		for _, n := range names {
			peak := int64(0)
			for _, s := range r.samples[c][n] {
				peak = max(peak, s.peakRSS)
			}
			if peak == 0 {
				line = append(line, "–")
			} else {
				line = append(line, fmt.Sprintf("%.1f", float64(peak)/mib))
			}
		}
		fmt.Fprintln(w, "| "+strings.Join(line, " | ")+" |")
	}
}

// summary is the last line of the output.
func summary(t tally, r *results) string {
	run := medianOf(metric{"run", cpuMs})
	wall := medianOf(metric{"run", wallMs})
	s := fmt.Sprintf("bench: barco meets %d of %d targets", t.pass, t.pass+t.fail+t.na)
	if t.na > 0 {
		s += fmt.Sprintf(" (%d not measurable)", t.na)
	}
	s += fmt.Sprintf("; run /bin/true: barco %s ms CPU, %s ms wall", num(run(r, "barco")), num(wall(r, "barco")))
	for _, ref := range []string{"crun", "runc"} {
		if c := run(r, ref); !math.IsNaN(c) {
			s += fmt.Sprintf("; %s %s ms CPU (barco %s×)", ref, num(c), ratio(run(r, "barco"), c))
		}
	}
	return s
}
