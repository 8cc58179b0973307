package cgroups

import (
	"encoding/json"
	"reflect"
	"slices"
	"strings"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

func TestParseKeyValues(t *testing.T) {
	got, err := parseKeyValues("low 0\nhigh 2\nmax 5\noom 1\noom_kill 1\noom_group_kill 0\n")
	want := map[string]uint64{"low": 0, "high": 2, "max": 5, "oom": 1, "oom_kill": 1, "oom_group_kill": 0}
	if err != nil || !reflect.DeepEqual(got, want) {
		t.Errorf("parseKeyValues() = %v, %v; want %v", got, err, want)
	}
	for _, bad := range []string{"novalue\n", "key x\n"} {
		if _, err := parseKeyValues(bad); err == nil {
			t.Errorf("parseKeyValues(%q) succeeded", bad)
		}
	}
}

func TestParseIOStat(t *testing.T) {
	var b Blkio
	err := parseIOStat("8:0 rbytes=4096 wbytes=8192 rios=1 wios=2 dbytes=0 dios=0\n"+
		"253:1 rbytes=10 wbytes=0 rios=3 wios=0 dbytes=512 dios=1 cost.usage=7\n", &b)
	if err != nil {
		t.Fatal(err)
	}
	wantBytes := []BlkioEntry{
		{8, 0, "Read", 4096}, {8, 0, "Write", 8192}, {8, 0, "Discard", 0},
		{253, 1, "Read", 10}, {253, 1, "Write", 0}, {253, 1, "Discard", 512},
	}
	wantIOs := []BlkioEntry{
		{8, 0, "Read", 1}, {8, 0, "Write", 2}, {8, 0, "Discard", 0},
		{253, 1, "Read", 3}, {253, 1, "Write", 0}, {253, 1, "Discard", 1},
	}
	if !slices.Equal(b.IoServiceBytesRecursive, wantBytes) || !slices.Equal(b.IoServicedRecursive, wantIOs) {
		t.Errorf("parseIOStat() = %+v", b)
	}
	if err := parseIOStat("8-0 rbytes=1\n", &b); err == nil {
		t.Error("bad device accepted")
	}
}

func TestParsePSI(t *testing.T) {
	got, err := parsePSI("some avg10=1.50 avg60=0.25 avg300=0.00 total=12345\nfull avg10=0.00 avg60=0.00 avg300=0.00 total=7\n")
	want := &PSIStats{Some: PSIData{Avg10: 1.5, Avg60: 0.25, Total: 12345}, Full: PSIData{Total: 7}}
	if err != nil || !reflect.DeepEqual(got, want) {
		t.Errorf("parsePSI() = %+v, %v; want %+v", got, err, want)
	}
	if _, err := parsePSI("some avg10=x\n"); err == nil {
		t.Error("bad avg10 accepted")
	}
}

func TestParseList(t *testing.T) {
	for _, tt := range []struct {
		in   string
		want []uint16
		err  bool
	}{
		{"", nil, false},
		{"0", []uint16{0}, false},
		{"0-3,8,10-11", []uint16{0, 1, 2, 3, 8, 10, 11}, false},
		{"3-1", nil, true},
		{"a", nil, true},
	} {
		got, err := parseList(tt.in)
		if (err != nil) != tt.err || !slices.Equal(got, tt.want) {
			t.Errorf("parseList(%q) = %v, %v; want %v (error %v)", tt.in, got, err, tt.want, tt.err)
		}
	}
}

// TestStatsJSON pins the JSON names that tools reading runc's
// `events --stats` output rely on.
func TestStatsJSON(t *testing.T) {
	s := Stats{
		CPU:     CPU{Usage: CPUUsage{Total: 1, Kernel: 2, User: 3}, Throttling: Throttling{Periods: 4, ThrottledPeriods: 5, ThrottledTime: 6}},
		Memory:  Memory{Cache: 7, Usage: MemoryEntry{Limit: 8, Usage: 9, Max: 10, Failcnt: 11}, Raw: map[string]uint64{"anon": 12}},
		Pids:    Pids{Current: 13, Limit: 14},
		Blkio:   Blkio{IoServiceBytesRecursive: []BlkioEntry{{Major: 8, Minor: 1, Op: "Read", Value: 15}}},
		Hugetlb: map[string]Hugetlb{"2MB": {Usage: 16, Failcnt: 17}},
	}
	data, err := json.Marshal(s)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		`"cpu":{"usage":{"total":1,"kernel":2,"user":3},"throttling":{"periods":4,"throttledPeriods":5,"throttledTime":6}}`,
		`"memory":{"cache":7,"usage":{"limit":8,"usage":9,"max":10,"failcnt":11}`,
		`"raw":{"anon":12}`,
		`"pids":{"current":13,"limit":14}`,
		`"blkio":{"ioServiceBytesRecursive":[{"major":8,"minor":1,"op":"Read","value":15}]}`,
		`"hugetlb":{"2MB":{"usage":16,"failcnt":17}}`,
	} {
		if !strings.Contains(string(data), want) {
			t.Errorf("JSON %s\nlacks %s", data, want)
		}
	}
}

// TestStatsOfChild reads the stats of a cgroup whose process holds 16 MiB.
func TestStatsOfChild(t *testing.T) {
	mount := needCgroup2(t)
	needControllers(t, mount, "memory", "pids")
	m := testManager(t, mount, "c")
	r := &specs.LinuxResources{
		Memory: &specs.LinuxMemory{Limit: ptr[int64](256 << 20)},
		Pids:   &specs.LinuxPids{Limit: ptr[int64](64)},
	}
	if err := m.Create(r); err != nil {
		t.Fatal(err)
	}
	if err := m.Set(r); err != nil {
		t.Fatal(err)
	}
	h, err := startHelper(t, m, "alloc", "16")
	if err != nil {
		t.Fatal(err)
	}
	if line := h.readLine(t); line != "ready" {
		t.Fatalf("helper said %q", line)
	}
	s, err := m.Stats()
	if err != nil {
		t.Fatal(err)
	}
	if s.Memory.Usage.Usage < 16<<20 || s.Memory.Raw["anon"] < 16<<20 {
		t.Errorf("memory usage %d, anon %d; want at least 16 MiB", s.Memory.Usage.Usage, s.Memory.Raw["anon"])
	}
	if s.Memory.Usage.Limit != 256<<20 {
		t.Errorf("memory limit %d, want %d", s.Memory.Usage.Limit, 256<<20)
	}
	if s.Pids.Current < 1 || s.Pids.Limit != 64 {
		t.Errorf("pids = %+v, want current >= 1 and limit 64", s.Pids)
	}
	if s.CPU.Usage.Total == 0 || s.CPU.Usage.Total < s.CPU.Usage.User {
		t.Errorf("cpu usage = %+v", s.CPU.Usage)
	}
	if m.has("cpu.pressure") && s.CPU.PSI == nil {
		t.Error("cpu.pressure exists but CPU.PSI is nil")
	}
	ev, err := m.MemoryEvents()
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := ev["oom_kill"]; !ok {
		t.Errorf("MemoryEvents() = %v, no oom_kill counter", ev)
	}
	h.stdin.Close()
	if err := h.cmd.Wait(); err != nil {
		t.Fatalf("helper: %v", err)
	}
}
