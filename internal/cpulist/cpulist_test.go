package cpulist

import (
	"slices"
	"strings"
	"testing"
)

func TestParse(t *testing.T) {
	for _, tt := range []struct {
		in      string
		want    []int
		wantErr string
	}{
		{"", nil, ""},
		{" ", nil, ""},
		{"0", []int{0}, ""},
		{"0-3,7", []int{0, 1, 2, 3, 7}, ""},
		{" 1 - 2 , 5", []int{1, 2, 5}, ""},
		{"7,2", []int{7, 2}, ""},
		{"3-1", nil, "range 3-1 is reversed"},
		{"8", nil, "8 is beyond 7"},
		{"a", nil, "invalid list"},
		{"1,", nil, "invalid list"},
		{"-1", nil, "invalid list"},
		{"1-", nil, "invalid list"},
	} {
		got, err := Parse(tt.in, 8)
		if tt.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("Parse(%q) = %v, %v; want error %q", tt.in, got, err, tt.wantErr)
			}
			continue
		}
		if err != nil || !slices.Equal(got, tt.want) {
			t.Errorf("Parse(%q) = %v, %v; want %v", tt.in, got, err, tt.want)
		}
	}
}
