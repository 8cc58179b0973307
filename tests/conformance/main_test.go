package main

import (
	"reflect"
	"testing"
)

func TestMountsBelow(t *testing.T) {
	info := "22 1 0:21 / / rw - ext4 /dev/root rw\n" +
		"30 22 0:30 / /work/cache/tmp/x/rootfs/proc rw - proc proc rw\n" +
		"31 22 0:31 / /work/cache/tmp/xy rw - tmpfs tmpfs rw\n" +
		"32 22 0:32 / /work/cache/tmp/with\\040space rw - tmpfs tmpfs rw\n"
	cases := []struct {
		dir  string
		want []string
	}{
		{"/work/cache/tmp/x", []string{"/work/cache/tmp/x/rootfs/proc"}},
		{"/work/cache/tmp/xy", []string{"/work/cache/tmp/xy"}},
		{"/work/cache/tmp/with space", []string{"/work/cache/tmp/with space"}},
		{"/work/cache/tmp/z", nil},
	}
	for _, c := range cases {
		if got := mountsBelow(info, c.dir); !reflect.DeepEqual(got, c.want) {
			t.Errorf("mountsBelow(%q) = %q, want %q", c.dir, got, c.want)
		}
	}
}
