package state

import (
	"bytes"
	"fmt"
	"strconv"

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
	data, err := sysfile.Read(path)
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
	// fields[0] is field 3 (state), so field N is fields[N-3].
	fields := bytes.Fields(data[end+1:])
	const startField = 22
	if len(fields) < startField-2 {
		return 0, 0, fmt.Errorf("only %d fields after the command name, want at least %d", len(fields), startField-2)
	}
	if len(fields[0]) != 1 {
		return 0, 0, fmt.Errorf("state field %q is not one letter", fields[0])
	}
	startTime, err = strconv.ParseUint(string(fields[startField-3]), 10, 64)
	if err != nil {
		return 0, 0, fmt.Errorf("start time field: %w", err)
	}
	return startTime, fields[0][0], nil
}
