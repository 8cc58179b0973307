package main

import (
	"bytes"
	"math"
	"strings"
	"testing"
	"time"
)

func TestMedian(t *testing.T) {
	tests := []struct {
		in   []float64
		want float64
	}{
		{[]float64{3}, 3},
		{[]float64{5, 1, 3}, 3},
		{[]float64{4, 1, 3, 2}, 2.5},
		{[]float64{10, 10, 1, 10}, 10},
	}
	for _, tt := range tests {
		if got := median(tt.in); got != tt.want {
			t.Errorf("median(%v) = %v, want %v", tt.in, got, tt.want)
		}
	}
	if got := median(nil); !math.IsNaN(got) {
		t.Errorf("median(nil) = %v, want NaN", got)
	}
	in := []float64{3, 1, 2}
	median(in)
	if in[0] != 3 || in[1] != 1 {
		t.Errorf("median sorted its input: %v", in)
	}
}

func TestTargetVerdict(t *testing.T) {
	run := target{bounds: []bound{{ref: "crun", factor: 0.8}, {ref: "runc", factor: 0.35}}}
	tests := []struct {
		name   string
		t      target
		values map[string]float64
		want   string
	}{
		{"both bounds hold", run, map[string]float64{"barco": 10, "crun": 13, "runc": 42}, "PASS"},
		{"exactly on the bound", run, map[string]float64{"barco": 8, "crun": 10, "runc": 40}, "PASS"},
		{"one bound fails", run, map[string]float64{"barco": 10, "crun": 12, "runc": 20}, "FAIL"},
		{"reference missing", run, map[string]float64{"barco": 10, "runc": 42}, "n/a"},
		{"reference not measured", run, map[string]float64{"barco": 10, "crun": math.NaN(), "runc": 42}, "n/a"},
		{"barco not measured", notSlower, map[string]float64{"barco": math.NaN(), "crun": 1}, "n/a"},
		{"absolute limit holds", target{bounds: []bound{{factor: 5}}}, map[string]float64{"barco": 4.9}, "PASS"},
		{"absolute limit fails", target{bounds: []bound{{factor: 3}}}, map[string]float64{"barco": 3.1}, "FAIL"},
		{"no target", target{}, map[string]float64{"barco": 1}, ""},
	}
	for _, tt := range tests {
		if got := tt.t.verdict(tt.values); got != tt.want {
			t.Errorf("%s: verdict = %q, want %q", tt.name, got, tt.want)
		}
	}
}

func TestTargetString(t *testing.T) {
	tests := []struct {
		t    target
		want string
	}{
		{target{bounds: []bound{{ref: "crun", factor: 0.8}, {ref: "runc", factor: 0.35}}}, "≤ 0.8× crun, ≤ 0.35× runc"},
		{notSlower, "≤ crun"},
		{target{bounds: []bound{{factor: 5}}}, "≤ 5"},
		{target{}, ""},
	}
	for _, tt := range tests {
		if got := tt.t.String(); got != tt.want {
			t.Errorf("String() = %q, want %q", got, tt.want)
		}
	}
}

func TestWriteTable(t *testing.T) {
	r := newResults()
	for _, v := range []struct {
		rt   string
		wall time.Duration
		cpu  time.Duration
		rss  int64
	}{
		{"barco", 10 * time.Millisecond, 4 * time.Millisecond, 3 * mib},
		{"barco", 12 * time.Millisecond, 6 * time.Millisecond, 4 * mib},
		{"barco", 30 * time.Millisecond, 5 * time.Millisecond, 2 * mib},
		{"crun", 20 * time.Millisecond, 10 * time.Millisecond, 2 * mib},
		{"runc", 50 * time.Millisecond, 20 * time.Millisecond, 9 * mib},
	} {
		r.add("run", v.rt, sample{wall: v.wall, cpu: v.cpu, peakRSS: v.rss})
	}
	r.createdRSS["barco"] = []int64{2 * mib, 4 * mib, 3 * mib}
	r.createdRSS["crun"] = []int64{2 * mib}
	rows := tableRows(options{queryN: 100, concN: 50})
	var buf bytes.Buffer
	tl := writeTable(&buf, rows, r, []string{"barco", "crun", "runc"})
	out := buf.String()
	for _, want := range []string{
		"| cell | barco | crun | runc | barco/crun | barco/runc | target (barco) | result |",
		// medians 12 and 5 ms; 12/20, 12/50, 5/10, 5/20
		"| run /bin/true, wall (ms) | 12.0 | 20.0 | 50.0 | 0.60 | 0.24 | ≤ crun | PASS |",
		"| run /bin/true, CPU (ms) | 5.0 | 10.0 | 20.0 | 0.50 | 0.25 | ≤ 0.8× crun, ≤ 0.35× runc | PASS |",
		"| create, wall (ms) | – | – | – | – | – | ≤ crun | n/a |",
		"| peak RSS, any process (MiB) | 4.0 | 2.0 | 9.0 | 2.00 | 0.44 | ≤ 5 | PASS |",
		"| created container holds (MiB) | 3.0 | 2.0 | – | 1.50 | – | ≤ 3 | PASS |",
	} {
		if !strings.Contains(out, want+"\n") {
			t.Errorf("table lacks line\n%s\nin\n%s", want, out)
		}
	}
	targets := 0
	for _, rw := range rows {
		if len(rw.target.bounds) > 0 {
			targets++
		}
	}
	if tl.pass != 4 || tl.fail != 0 || tl.na != targets-4 {
		t.Errorf("tally = %+v, want 4 pass, 0 fail, %d n/a", tl, targets-4)
	}
	if want := "| … of it anonymous (MiB) | – | – | – | – | – |  |  |"; !strings.Contains(out, want+"\n") {
		t.Errorf("table lacks line\n%s\nin\n%s", want, out)
	}
	s := summary(tl, r)
	if !strings.HasPrefix(s, "bench: barco meets 4 of 18 targets") || !strings.Contains(s, "crun 10.0 ms CPU (barco 0.50×)") {
		t.Errorf("summary = %q", s)
	}
}
