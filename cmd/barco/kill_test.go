package main

import (
	"testing"

	"golang.org/x/sys/unix"
)

func TestParseSignal(t *testing.T) {
	for _, tt := range []struct {
		in      string
		want    unix.Signal
		wantErr bool
	}{
		{"TERM", unix.SIGTERM, false},
		{"SIGKILL", unix.SIGKILL, false},
		{"sigusr1", unix.SIGUSR1, false},
		{"hup", unix.SIGHUP, false},
		{"9", unix.SIGKILL, false},
		{"0", 0, false},
		{"64", unix.Signal(64), false},
		{"65", 0, true},
		{"-1", 0, true},
		{"FOO", 0, true},
		{"SIG", 0, true},
		{"", 0, true},
	} {
		got, err := parseSignal(tt.in)
		if (err != nil) != tt.wantErr || got != tt.want {
			t.Errorf("parseSignal(%q) = %d, %v; want %d, error %v", tt.in, got, err, tt.want, tt.wantErr)
		}
	}
}
