package main

import (
	"reflect"
	"strings"
	"testing"
)

func TestParseTAP(t *testing.T) {
	cases := []struct {
		name string
		in   string
		want tapStream
	}{
		{
			name: "plain assertions with plan at the end",
			in:   "TAP version 13\nok 1 - has expected hostname\nnot ok 2 - has expected user ID\n1..2\n",
			want: tapStream{Plan: 2, Assertions: []assertion{
				{Num: 1, Desc: "has expected hostname", Status: statusPass},
				{Num: 2, Desc: "has expected user ID", Status: statusFail},
			}},
		},
		{
			name: "skip directive without description, as tap-go writes it",
			in:   "1..2\nok 1 # SKIP linux.sysctl not set\nok 2 - fine # skip not here\n",
			want: tapStream{Plan: 2, Assertions: []assertion{
				{Num: 1, Status: statusSkip, Directive: "linux.sysctl not set"},
				{Num: 2, Desc: "fine", Status: statusSkip, Directive: "not here"},
			}},
		},
		{
			name: "todo directive and a hash inside the description",
			in:   "not ok 1 - check #5 # TODO later\nok 2 - issue #7 fixed\n",
			want: tapStream{Plan: -1, Assertions: []assertion{
				{Num: 1, Desc: "check #5", Status: statusTodo, Directive: "later"},
				{Num: 2, Desc: "issue #7 fixed", Status: statusPass},
			}},
		},
		{
			name: "yaml and diagnostics become detail of the previous assertion",
			in:   "not ok 1 - pids limit is set correctly\n# expect: 1000, actual: 1000\n  ---\n  {\n    \"error\": \"x\"\n  }\n  ...\n1..1\n",
			want: tapStream{Plan: 1, Assertions: []assertion{{
				Num: 1, Desc: "pids limit is set correctly", Status: statusFail,
				Detail: []string{"# expect: 1000, actual: 1000", "  ---", "  {", "    \"error\": \"x\"", "  }", "  ..."},
			}}},
		},
		{
			name: "embedded runtimetest output stays inside the yaml block",
			in:   "ok 1 - check root propagation: slave\n  ---\n  {\n    \"stdout\": \"TAP version 13\\nnot ok 1 - x\\n1..1\\n\"\n  }\n  ...\n1..1\n",
			want: tapStream{Plan: 1, Assertions: []assertion{{
				Num: 1, Desc: "check root propagation: slave", Status: statusPass,
				Detail: []string{"  ---", "  {", "    \"stdout\": \"TAP version 13\\nnot ok 1 - x\\n1..1\\n\"", "  }", "  ..."},
			}}},
		},
		{
			name: "error reported in a yaml block before any assertion",
			in:   "TAP version 13\n  ---\n  {\n    \"error\": \"Hooks MUST be called in the listed order\\nRefer to: x\"\n  }\n  ...\n1..0\n",
			want: tapStream{Plan: 0, Errors: []string{"Hooks MUST be called in the listed order\nRefer to: x"}},
		},
		{
			name: "yaml block before assertions without an error field",
			in:   "  ---\n  {\n    \"actual\": \"\"\n  }\n  ...\nnot ok 1 - cannot run validation tests: exit status 1\n1..1\n",
			want: tapStream{Plan: 1, Assertions: []assertion{{Num: 1, Desc: "cannot run validation tests: exit status 1", Status: statusFail}}},
		},
		{
			name: "bail out",
			in:   "ok 1 - a\nBail out! no runtime\n",
			want: tapStream{Plan: -1, BailOut: "no runtime", Assertions: []assertion{{Num: 1, Desc: "a", Status: statusPass}}},
		},
		{
			name: "empty stream",
			in:   "",
			want: tapStream{Plan: -1},
		},
		{
			name: "assertion without number",
			in:   "not ok - exit status 1\n",
			want: tapStream{Plan: -1, Assertions: []assertion{{Desc: "exit status 1", Status: statusFail}}},
		},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got, err := parseTAP(strings.NewReader(c.in))
			if err != nil {
				t.Fatalf("parseTAP: %v", err)
			}
			if !reflect.DeepEqual(got, c.want) {
				t.Errorf("parseTAP:\n got %+v\nwant %+v", got, c.want)
			}
		})
	}
}

func TestParseTAPLongLine(t *testing.T) {
	// runtimetest's whole output is embedded in one YAML line; it can be
	// far longer than bufio's default token size.
	long := "    \"stdout\": \"" + strings.Repeat("x", 200*1024) + "\""
	got, err := parseTAP(strings.NewReader("ok 1 - a\n" + long + "\nok 2 - b\n1..2\n"))
	if err != nil {
		t.Fatalf("parseTAP: %v", err)
	}
	if len(got.Assertions) != 2 || got.Assertions[1].Desc != "b" {
		t.Fatalf("assertions after a long line: %+v", got.Assertions)
	}
}
