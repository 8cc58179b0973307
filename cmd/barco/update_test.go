package main

import "testing"

func TestParseBytes(t *testing.T) {
	cases := []struct {
		in   string
		want int64
		ok   bool
	}{
		{"1024", 1024, true},
		{"64m", 64 << 20, true},
		{"64MB", 64 << 20, true},
		{"1g", 1 << 30, true},
		{"1.5k", 1536, true},
		{"2GiB", 2 << 30, true},
		{"-1", -1, true},
		{"-5", 0, false},
		{"lots", 0, false},
		{"", 0, false},
	}
	for _, c := range cases {
		got, err := parseBytes(c.in)
		if (err == nil) != c.ok || (c.ok && got != c.want) {
			t.Errorf("parseBytes(%q) = %d, %v; want %d ok=%v", c.in, got, err, c.want, c.ok)
		}
	}
}
