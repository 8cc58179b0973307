package state

import (
	"bytes"
	"fmt"
	"strconv"

	"golang.org/x/sys/unix"

	"github.com/barco-oci/barco/internal/sysfile"
)

// ProcStat returns the start time (field 22, in clock ticks since boot) and
// the state letter (field 3) of /proc/PID/stat. A vanished process gives an
// error matching os.ErrNotExist.
func ProcStat(pid int) (startTime uint64, state byte, err error) {
	if pid <= 0 {
		return 0, 0, fmt.Errorf("proc stat: invalid pid %d", pid)
	}
	path := "/proc/" + strconv.Itoa(pid) + "/stat"
	data, err := sysfile.ReadWhole(unix.AT_FDCWD, path, 0, path)
	if err != nil {
		return 0, 0, err
	}
	startTime, state, err = parseStat(data)
	if err != nil {
		return 0, 0, fmt.Errorf("parse %s: %w", path, err)
	}
	return startTime, state, nil
}

// parseStat reads fields 3 and 22 of a /proc/PID/stat line. The command name
// (field 2) is free text in parentheses that may itself hold spaces and ')',
// so the fixed fields start after the last ')'.
func parseStat(data []byte) (startTime uint64, state byte, err error) {
	end := bytes.LastIndexByte(data, ')')
	if end < 0 {
		return 0, 0, fmt.Errorf("no ')' closing the command name")
	}
	// Field 3 (the state) is the first after it, so field N is the
	// (N-3)th; read without splitting the whole line (list reads one per
	// container).
	const startField = 22
	var stateTok, startTok []byte
	n := 0
	for rest := data[end+1:]; n <= startField-3; n++ {
		rest = bytes.TrimLeft(rest, " \t\n")
		if len(rest) == 0 {
			break
		}
		i := bytes.IndexAny(rest, " \t\n")
		if i < 0 {
			i = len(rest)
		}
		switch n {
		case 0:
			stateTok = rest[:i]
		case startField - 3:
			startTok = rest[:i]
		}
		rest = rest[i:]
	}
	if n < startField-2 {
		return 0, 0, fmt.Errorf("only %d fields after the command name, want at least %d", n, startField-2)
	}
	if len(stateTok) != 1 {
		return 0, 0, fmt.Errorf("state field %q is not one letter", stateTok)
	}
	startTime, err = strconv.ParseUint(string(startTok), 10, 64)
	if err != nil {
		return 0, 0, fmt.Errorf("start time field: %w", err)
	}
	return startTime, stateTok[0], nil
}
