// Package mounts reads the host's mount table for the test suites.
package mounts

import (
	"errors"
	"os"
	"strconv"
	"strings"
)

// Cgroup2 finds where the cgroup2 hierarchy is mounted. On hybrid hosts it
// is not /sys/fs/cgroup but a subdirectory such as /sys/fs/cgroup/unified.
func Cgroup2() (string, error) {
	data, err := os.ReadFile("/proc/self/mountinfo")
	if err != nil {
		return "", err
	}
	for line := range strings.SplitSeq(string(data), "\n") {
		// Fields after " - " are: fstype, source, super options.
		pre, post, ok := strings.Cut(line, " - ")
		if !ok {
			continue
		}
		if f := strings.Fields(post); len(f) > 0 && f[0] == "cgroup2" {
			if pf := strings.Fields(pre); len(pf) >= 5 {
				return Unescape(pf[4]), nil
			}
		}
	}
	return "", errors.New("no cgroup2 mount in /proc/self/mountinfo")
}

// Unescape undoes the octal escapes (\040 for space, ...) that mountinfo
// uses in paths.
func Unescape(s string) string {
	if !strings.Contains(s, `\`) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+3 < len(s) {
			if v, err := strconv.ParseUint(s[i+1:i+4], 8, 8); err == nil {
				b.WriteByte(byte(v))
				i += 3
				continue
			}
		}
		b.WriteByte(s[i])
	}
	return b.String()
}
