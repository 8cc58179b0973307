// Package seccomp turns the seccomp section of a runtime-spec config into a
// classic BPF program with libseccomp and installs it with seccomp(2).
//
// Compiling and loading are separate steps on purpose: compiling a large
// profile through libseccomp costs milliseconds, loading a ready program is
// one system call. CompileCached keeps compiled programs on disk so that a
// container start with a known profile does not enter libseccomp at all.
package seccomp

import (
	"fmt"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	libseccomp "github.com/seccomp/libseccomp-golang"
	"golang.org/x/sys/unix"
)

// table maps runtime-spec spellings to values. The tables keep the order
// of the specification so that `barco features` prints them stably.
type table[T any] []struct {
	name string
	val  T
}

func (t table[T]) names() []string {
	out := make([]string, len(t))
	for i, e := range t {
		out[i] = e.name
	}
	return out
}

func (t table[T]) lookup(name string) (T, bool) {
	for _, e := range t {
		if e.name == name {
			return e.val, true
		}
	}
	var zero T
	return zero, false
}

// actions maps to the libseccomp action without its return code; ERRNO and
// TRACE get theirs in ruleAction.
var actions = table[libseccomp.ScmpAction]{
	{string(specs.ActKill), libseccomp.ActKillThread},
	{string(specs.ActKillProcess), libseccomp.ActKillProcess},
	{string(specs.ActKillThread), libseccomp.ActKillThread},
	{string(specs.ActTrap), libseccomp.ActTrap},
	{string(specs.ActErrno), libseccomp.ActErrno},
	{string(specs.ActTrace), libseccomp.ActTrace},
	{string(specs.ActAllow), libseccomp.ActAllow},
	{string(specs.ActLog), libseccomp.ActLog},
	{string(specs.ActNotify), libseccomp.ActNotify},
}

var operators = table[libseccomp.ScmpCompareOp]{
	{string(specs.OpNotEqual), libseccomp.CompareNotEqual},
	{string(specs.OpLessThan), libseccomp.CompareLess},
	{string(specs.OpLessEqual), libseccomp.CompareLessOrEqual},
	{string(specs.OpEqualTo), libseccomp.CompareEqual},
	{string(specs.OpGreaterEqual), libseccomp.CompareGreaterEqual},
	{string(specs.OpGreaterThan), libseccomp.CompareGreater},
	{string(specs.OpMaskedEqual), libseccomp.CompareMaskedEqual},
}

var archs = table[libseccomp.ScmpArch]{
	{string(specs.ArchX86), libseccomp.ArchX86},
	{string(specs.ArchX86_64), libseccomp.ArchAMD64},
	{string(specs.ArchX32), libseccomp.ArchX32},
	{string(specs.ArchARM), libseccomp.ArchARM},
	{string(specs.ArchAARCH64), libseccomp.ArchARM64},
	{string(specs.ArchMIPS), libseccomp.ArchMIPS},
	{string(specs.ArchMIPS64), libseccomp.ArchMIPS64},
	{string(specs.ArchMIPS64N32), libseccomp.ArchMIPS64N32},
	{string(specs.ArchMIPSEL), libseccomp.ArchMIPSEL},
	{string(specs.ArchMIPSEL64), libseccomp.ArchMIPSEL64},
	{string(specs.ArchMIPSEL64N32), libseccomp.ArchMIPSEL64N32},
	{string(specs.ArchPPC), libseccomp.ArchPPC},
	{string(specs.ArchPPC64), libseccomp.ArchPPC64},
	{string(specs.ArchPPC64LE), libseccomp.ArchPPC64LE},
	{string(specs.ArchS390), libseccomp.ArchS390},
	{string(specs.ArchS390X), libseccomp.ArchS390X},
	{string(specs.ArchPARISC), libseccomp.ArchPARISC},
	{string(specs.ArchPARISC64), libseccomp.ArchPARISC64},
	{string(specs.ArchRISCV64), libseccomp.ArchRISCV64},
	{string(specs.ArchLOONGARCH64), libseccomp.ArchLOONGARCH64},
	{string(specs.ArchM68K), libseccomp.ArchM68K},
	{string(specs.ArchSH), libseccomp.ArchSH},
	{string(specs.ArchSHEB), libseccomp.ArchSHEB},
}

// flags maps to the seccomp(2) flag bits. runtime-spec has no Go constant
// for TSYNC, hence the literal.
var flags = table[uint]{
	{"SECCOMP_FILTER_FLAG_TSYNC", unix.SECCOMP_FILTER_FLAG_TSYNC},
	{string(specs.LinuxSeccompFlagLog), unix.SECCOMP_FILTER_FLAG_LOG},
	{string(specs.LinuxSeccompFlagSpecAllow), unix.SECCOMP_FILTER_FLAG_SPEC_ALLOW},
	{string(specs.LinuxSeccompFlagWaitKillableRecv), unix.SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV},
}

// Actions lists the action names barco accepts.
func Actions() []string { return actions.names() }

// Operators lists the argument comparison operators barco accepts.
func Operators() []string { return operators.names() }

// Archs lists the architecture names barco accepts. Whether the installed
// libseccomp can build rules for each of them shows only at Compile time
// (libseccomp 2.5 lacks LOONGARCH64, M68K, SH and SHEB).
func Archs() []string { return archs.names() }

// KnownFlags lists the seccomp(2) filter flags barco understands.
func KnownFlags() []string { return flags.names() }

// Version returns the version of the libseccomp library in use, such as
// "2.5.4".
func Version() string {
	major, minor, micro := libseccomp.GetLibraryVersion()
	return fmt.Sprintf("%d.%d.%d", major, minor, micro)
}
