package main

import (
	"testing"
)

func TestFilterPsOutput(t *testing.T) {
	const ef = "UID          PID    PPID  C STIME TTY          TIME CMD\n" +
		"root           1       0  0 10:00 ?        00:00:01 /sbin/init\n" +
		"root         120       1  0 10:00 ?        00:00:00 sleep 1000\n" +
		"root         121     120  0 10:00 ?        00:00:00 sleep 1001\n" +
		"root        1200       1  0 10:00 ?        00:00:00 sleep 120\n"
	tests := []struct {
		name    string
		out     string
		pids    []int
		want    string
		wantErr bool
	}{
		{
			name: "keeps header and matching pids only",
			out:  ef,
			pids: []int{120, 121},
			want: "UID          PID    PPID  C STIME TTY          TIME CMD\n" +
				"root         120       1  0 10:00 ?        00:00:00 sleep 1000\n" +
				"root         121     120  0 10:00 ?        00:00:00 sleep 1001\n",
		},
		{
			name: "a pid that only appears in another column is not matched",
			out:  ef,
			pids: []int{0},
			want: "UID          PID    PPID  C STIME TTY          TIME CMD\n",
		},
		{
			name: "PID as first column",
			out:  "    PID COMMAND\n      7 sh\n      8 ps\n",
			pids: []int{8},
			want: "    PID COMMAND\n      8 ps\n",
		},
		{
			name: "no pids gives only the header",
			out:  ef,
			pids: nil,
			want: "UID          PID    PPID  C STIME TTY          TIME CMD\n",
		},
		{
			name: "short lines are skipped",
			out:  "USER PID CMD\nx\nroot 5 sh\n",
			pids: []int{5},
			want: "USER PID CMD\nroot 5 sh\n",
		},
		{
			name:    "no PID column",
			out:     "COMMAND\nsh\n",
			pids:    []int{1},
			wantErr: true,
		},
		{
			name:    "PPID alone is not PID",
			out:     "PPID COMMAND\n1 sh\n",
			pids:    []int{1},
			wantErr: true,
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := filterPsOutput([]byte(tc.out), tc.pids)
			if tc.wantErr {
				if err == nil {
					t.Fatalf("no error, output %q", got)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if string(got) != tc.want {
				t.Errorf("got\n%q\nwant\n%q", got, tc.want)
			}
		})
	}
}
