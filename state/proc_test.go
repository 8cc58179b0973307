package state

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"testing"
)

// statLine builds a /proc/PID/stat line in the kernel's layout (52 fields)
// with the given command name, state letter and start time (field 22).
func statLine(comm string, state string, start string) string {
	fields := []string{"4242", "(" + comm + ")", state}
	for n := 4; n <= 52; n++ {
		switch n {
		case 22:
			fields = append(fields, start)
		default:
			fields = append(fields, fmt.Sprint(n*7))
		}
	}
	return strings.Join(fields, " ") + "\n"
}

func TestParseStat(t *testing.T) {
	tests := []struct {
		name      string
		line      string
		wantStart uint64
		wantState byte
		wantErr   string
	}{
		{name: "plain", line: statLine("bash", "S", "12345"), wantStart: 12345, wantState: 'S'},
		{name: "spaces in comm", line: statLine("my prog 1 2 3", "R", "77"), wantStart: 77, wantState: 'R'},
		{name: "parens in comm", line: statLine("a) (b", "Z", "9"), wantStart: 9, wantState: 'Z'},
		{name: "comm mimics fields", line: statLine(") S 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 19 20", "D", "555"), wantStart: 555, wantState: 'D'},
		{name: "empty comm", line: statLine("", "I", "1"), wantStart: 1, wantState: 'I'},
		{name: "max start", line: statLine("x", "S", "18446744073709551615"), wantStart: 1<<64 - 1, wantState: 'S'},
		{name: "no closing paren", line: "1 (bash S 1 2 3", wantErr: "no ')'"},
		{name: "empty", line: "", wantErr: "no ')'"},
		{name: "too short", line: "1 (bash) S 1 2 3\n", wantErr: "fields after the command name"},
		{name: "bad start time", line: statLine("x", "S", "12ab"), wantErr: "start time field"},
		{name: "negative start time", line: statLine("x", "S", "-5"), wantErr: "start time field"},
		{name: "long state", line: statLine("x", "SS", "5"), wantErr: "not one letter"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			start, state, err := parseStat([]byte(tt.line))
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("parseStat() error = %v, want one containing %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("parseStat() error = %v", err)
			}
			if start != tt.wantStart || state != tt.wantState {
				t.Errorf("parseStat() = (%d, %q), want (%d, %q)", start, state, tt.wantStart, tt.wantState)
			}
		})
	}
}

func TestProcStatSelf(t *testing.T) {
	start, state, err := ProcStat(os.Getpid())
	if err != nil {
		t.Fatal(err)
	}
	// The stat of a process is its main thread's, which may be asleep
	// while another thread of the test reads it; it is alive in any case.
	if !strings.ContainsRune("RSD", rune(state)) {
		t.Errorf("state of the running test = %q, want R, S or D", state)
	}
	again, _, err := ProcStat(os.Getpid())
	if err != nil {
		t.Fatal(err)
	}
	if start != again {
		t.Errorf("start time changed between reads: %d then %d", start, again)
	}
}

func TestProcStatChildAndGone(t *testing.T) {
	self, _, err := ProcStat(os.Getpid())
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("sleep", "60")
	if err := cmd.Start(); err != nil {
		t.Skipf("cannot start a child: %v", err)
	}
	pid := cmd.Process.Pid
	start, state, err := ProcStat(pid)
	if err != nil {
		t.Fatal(err)
	}
	if start < self {
		t.Errorf("child start time %d is before the parent's %d", start, self)
	}
	if !strings.ContainsRune("RSD", rune(state)) {
		t.Errorf("child state = %q, want one of R, S, D", state)
	}
	_ = cmd.Process.Kill()
	_ = cmd.Wait()
	// The pid could in theory be reused at once; then the start time differs.
	start2, _, err := ProcStat(pid)
	if err == nil {
		if start2 == start {
			t.Fatalf("ProcStat(%d) still sees the reaped child", pid)
		}
		return
	}
	if !errors.Is(err, os.ErrNotExist) {
		t.Errorf("ProcStat of a reaped child: %v, want an error matching os.ErrNotExist", err)
	}
}

func TestProcStatInvalidPid(t *testing.T) {
	for _, pid := range []int{0, -1} {
		if _, _, err := ProcStat(pid); err == nil {
			t.Errorf("ProcStat(%d) = nil error", pid)
		}
	}
}
