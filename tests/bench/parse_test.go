package main

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

func TestParseLaunchResult(t *testing.T) {
	tests := []struct {
		line    string
		want    launchResult
		wantErr bool
	}{
		{
			line: "0 1000000000 1012500000 1500 2500 3072\n",
			want: launchResult{begin: time.Second, end: time.Second + 12500*time.Microsecond, cpu: 4 * time.Millisecond, maxRSS: 3 << 20},
		},
		{
			line: "256 5 6 0 0 1",
			want: launchResult{status: syscall.WaitStatus(256), begin: 5, end: 6, maxRSS: 1024},
		},
		{line: "", wantErr: true},
		{line: "0 1 2 3 4", wantErr: true},
		{line: "0 1 2 3 4 x", wantErr: true},
		{line: "0 1 2 -3 4 5", wantErr: true},
		{line: "0 9 2 3 4 5", wantErr: true}, // ends before it begins
	}
	for _, tt := range tests {
		got, err := parseLaunchResult(tt.line)
		if (err != nil) != tt.wantErr {
			t.Errorf("parseLaunchResult(%q) error = %v, want error %v", tt.line, err, tt.wantErr)
			continue
		}
		if !tt.wantErr && got != tt.want {
			t.Errorf("parseLaunchResult(%q) = %+v, want %+v", tt.line, got, tt.want)
		}
	}
	r := launchResult{begin: 2 * time.Second, end: 3 * time.Second}
	if r.wall() != time.Second {
		t.Errorf("wall = %v, want 1s", r.wall())
	}
}

func TestDescribeStatus(t *testing.T) {
	tests := []struct {
		ws   syscall.WaitStatus
		want string
	}{
		{0, ""},
		{1 << 8, "exit status 1"},
		{127 << 8, "exit status 127 (not executable?)"},
		{syscall.WaitStatus(syscall.SIGKILL), "killed by signal 9 (killed)"},
	}
	for _, tt := range tests {
		if got := describeStatus(tt.ws); got != tt.want {
			t.Errorf("describeStatus(%#x) = %q, want %q", uint32(tt.ws), got, tt.want)
		}
	}
}

func TestParseProcStatus(t *testing.T) {
	full := "Name:\tsleep\nVmPeak:\t   2000 kB\nVmHWM:\t    900 kB\nVmRSS:\t    800 kB\nRssAnon:\t     300 kB\nRssFile:\t     500 kB\nThreads:\t1\n"
	tests := []struct {
		name    string
		in      string
		want    procStatus
		wantErr bool
	}{
		{"a process", full, procStatus{rss: 800 << 10, hwm: 900 << 10, anon: 300 << 10}, false},
		{"a zombie has no memory lines", "Name:\tsh\nState:\tZ (zombie)\n", procStatus{}, true},
		{"a unit other than kB", "VmHWM:\t1 MB\nVmRSS:\t1 kB\nRssAnon:\t1 kB\n", procStatus{}, true},
		{"not a number", "VmHWM:\tx kB\nVmRSS:\t1 kB\nRssAnon:\t1 kB\n", procStatus{}, true},
		{"no RssAnon", "VmHWM:\t1 kB\nVmRSS:\t1 kB\n", procStatus{}, true},
	}
	for _, tt := range tests {
		got, err := parseProcStatus([]byte(tt.in))
		if (err != nil) != tt.wantErr {
			t.Errorf("%s: error = %v, want error %v", tt.name, err, tt.wantErr)
			continue
		}
		if !tt.wantErr && got != tt.want {
			t.Errorf("%s: got %+v, want %+v", tt.name, got, tt.want)
		}
	}
}

func TestReadPidFile(t *testing.T) {
	dir := t.TempDir()
	tests := []struct {
		content string
		want    int
		wantErr bool
	}{
		{"1234", 1234, false},
		{"1234\n", 1234, false},
		{"", 0, true},
		{"0", 0, true},
		{"12ab", 0, true},
	}
	for i, tt := range tests {
		p := filepath.Join(dir, string(rune('a'+i)))
		if err := os.WriteFile(p, []byte(tt.content), 0o644); err != nil {
			t.Fatal(err)
		}
		got, err := readPidFile(p)
		if (err != nil) != tt.wantErr || got != tt.want {
			t.Errorf("readPidFile(%q) = %d, %v; want %d, error %v", tt.content, got, err, tt.want, tt.wantErr)
		}
	}
	if _, err := readPidFile(filepath.Join(dir, "missing")); err == nil {
		t.Error("readPidFile of a missing file succeeded")
	}
}

func TestBenchSpec(t *testing.T) {
	base := specs.Spec{
		Version: "1.3.0",
		Process: &specs.Process{Terminal: true, Args: []string{"sh"}, ConsoleSize: &specs.Box{Height: 1}},
		Root:    &specs.Root{Path: "rootfs", Readonly: true},
		Linux: &specs.Linux{
			Resources:  &specs.LinuxResources{Devices: []specs.LinuxDeviceCgroup{{Allow: false, Access: "rwm"}}},
			Namespaces: []specs.LinuxNamespace{{Type: specs.PIDNamespace}, {Type: specs.NetworkNamespace}},
		},
	}
	s, err := benchSpec(base, "/abs/rootfs", []string{"/bin/true"})
	if err != nil {
		t.Fatal(err)
	}
	if s.Version != benchOCIVersion || s.Process.Terminal || s.Process.ConsoleSize != nil ||
		!slices.Equal(s.Process.Args, []string{"/bin/true"}) || s.Root.Path != "/abs/rootfs" || !s.Root.Readonly ||
		s.Linux.Resources != nil || len(s.Linux.Namespaces) != 2 {
		t.Errorf("benchSpec = %+v %+v %+v %+v", s, *s.Process, *s.Root, *s.Linux)
	}
	if !base.Process.Terminal || base.Root.Path != "rootfs" || base.Linux.Resources == nil {
		t.Error("benchSpec changed its argument")
	}
	if _, err := benchSpec(specs.Spec{}, "/r", nil); err == nil {
		t.Error("benchSpec of an empty spec succeeded")
	}

	dir := t.TempDir()
	bundle, err := writeBundle(dir, "c1", s)
	if err != nil {
		t.Fatal(err)
	}
	if bundle != filepath.Join(dir, "c1") {
		t.Errorf("bundle = %s", bundle)
	}
	b, err := os.ReadFile(filepath.Join(bundle, "config.json"))
	if err != nil {
		t.Fatal(err)
	}
	if want := `"cgroupsPath":"/barco-bench/c1"`; !strings.Contains(string(b), want) {
		t.Errorf("config.json lacks %s: %s", want, b)
	}
	if s.Linux.CgroupsPath != "" {
		t.Error("writeBundle changed the template")
	}
}

func TestRuntimeNames(t *testing.T) {
	got := runtimeNames([]string{"/a/youki", "/b/youki", "/c/crun-new"})
	want := []string{"youki", "youki#2", "crun-new"}
	if !slices.Equal(got, want) {
		t.Errorf("runtimeNames = %v, want %v", got, want)
	}
}

func TestOrderRotates(t *testing.T) {
	a, b2, c := &runtimeUnderTest{name: "a"}, &runtimeUnderTest{name: "b"}, &runtimeUnderTest{name: "c"}
	b := &bench{rts: []*runtimeUnderTest{a, b2, c}}
	for round, want := range [][]string{{"a", "b", "c"}, {"b", "c", "a"}, {"c", "a", "b"}, {"a", "b", "c"}} {
		var got []string
		for _, rt := range b.order(round) {
			got = append(got, rt.name)
		}
		if !slices.Equal(got, want) {
			t.Errorf("order(%d) = %v, want %v", round, got, want)
		}
	}
}

func TestArgv(t *testing.T) {
	rt := &runtimeUnderTest{path: "/usr/bin/crun", root: "/run/x"}
	got := rt.argv("state", "c1")
	want := []string{"/usr/bin/crun", "--root", "/run/x", "state", "c1"}
	if !slices.Equal(got, want) {
		t.Errorf("argv = %v, want %v", got, want)
	}
}
