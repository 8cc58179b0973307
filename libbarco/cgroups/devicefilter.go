package cgroups

import (
	"fmt"

	"github.com/barco-oci/barco/libbarco/cgroups/bpf"
	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// cgroup v2 has no devices.allow/deny files: device access is decided by a
// BPF_PROG_TYPE_CGROUP_DEVICE program attached to the cgroup. This file turns
// linux.resources.devices into such a program.
//
// The program sees struct bpf_cgroup_dev_ctx { u32 access_type; u32 major;
// u32 minor; }, where access_type is (access bits << 16) | device type.

// Device types and access bits of bpf_cgroup_dev_ctx (BPF_DEVCG_DEV_*,
// BPF_DEVCG_ACC_*).
const (
	devTypeBlock = 1
	devTypeChar  = 2

	accMknod = 1
	accRead  = 2
	accWrite = 4
	accAll   = accMknod | accRead | accWrite
)

// wildcard is a major or minor number matching every device.
const wildcard = -1

// deviceRule is one validated linux.resources.devices entry.
type deviceRule struct {
	allow  bool
	typ    byte  // 'a' (block and char), 'b' or 'c'
	major  int64 // or wildcard
	minor  int64 // or wildcard
	access uint32
}

// resetsAll reports whether the rule covers every access to every device, so
// that it decides everything the rules before it said.
func (r deviceRule) resetsAll() bool {
	return r.typ == 'a' && r.major == wildcard && r.minor == wildcard && r.access == accAll
}

// defaultDeviceRules are the devices the runtime-spec requires in every
// container (the /dev/pts/* and ptmx ones make terminals work); they are
// allowed whatever linux.resources.devices says.
func defaultDeviceRules() []deviceRule {
	dev := func(major, minor int64) deviceRule {
		return deviceRule{allow: true, typ: 'c', major: major, minor: minor, access: accAll}
	}
	return []deviceRule{
		dev(1, 3),          // /dev/null
		dev(1, 5),          // /dev/zero
		dev(1, 7),          // /dev/full
		dev(1, 8),          // /dev/random
		dev(1, 9),          // /dev/urandom
		dev(5, 0),          // /dev/tty
		dev(5, 2),          // /dev/ptmx
		dev(136, wildcard), // /dev/pts/*
	}
}

// parseDeviceRules validates the config's rules and appends the default
// devices. An empty type means all devices and an empty access means "rwm".
func parseDeviceRules(devs []specs.LinuxDeviceCgroup) ([]deviceRule, error) {
	rules := make([]deviceRule, 0, len(devs)+len(defaultDeviceRules()))
	for i, d := range devs {
		field := fmt.Sprintf("linux.resources.devices[%d]", i)
		r := deviceRule{allow: d.Allow, typ: 'a', major: wildcard, minor: wildcard, access: accAll}
		switch d.Type {
		case "", "a":
		case "b", "c":
			r.typ = d.Type[0]
		default:
			return nil, fmt.Errorf("%s.type: %q is not a, b or c", field, d.Type)
		}
		var err error
		if r.major, err = deviceNumber(d.Major); err != nil {
			return nil, fmt.Errorf("%s.major: %w", field, err)
		}
		if r.minor, err = deviceNumber(d.Minor); err != nil {
			return nil, fmt.Errorf("%s.minor: %w", field, err)
		}
		if d.Access != "" {
			if r.access, err = deviceAccess(d.Access); err != nil {
				return nil, fmt.Errorf("%s.access: %w", field, err)
			}
		}
		rules = append(rules, r)
	}
	return append(rules, defaultDeviceRules()...), nil
}

func deviceNumber(n *int64) (int64, error) {
	switch {
	case n == nil || *n == wildcard:
		return wildcard, nil
	case *n < 0 || *n > 1<<32-1:
		return 0, fmt.Errorf("%d is not a device number", *n)
	}
	return *n, nil
}

func deviceAccess(s string) (uint32, error) {
	var acc uint32
	for _, c := range s {
		switch c {
		case 'r':
			acc |= accRead
		case 'w':
			acc |= accWrite
		case 'm':
			acc |= accMknod
		default:
			return 0, fmt.Errorf("%q: %q is not r, w or m", s, c)
		}
	}
	return acc, nil
}

// effectiveRules drops what a later all-device rule overrides: such a rule
// becomes the default, and only the rules after it remain. With no such rule
// everything not allowed is denied, as runc and crun do on cgroup v2.
func effectiveRules(rules []deviceRule) (defaultAllow bool, rest []deviceRule) {
	for i := len(rules) - 1; i >= 0; i-- {
		if rules[i].resetsAll() {
			return rules[i].allow, rules[i+1:]
		}
	}
	return false, rules
}

// deviceProgram builds the program for rules evaluated in order, where the
// last rule that mentions a device and an access wins. It is decided per
// access bit, so that "deny w" after "allow rwm" also refuses an O_RDWR open
// (which asks for r and w at once):
//
//	R2 = device type, R3 = access bits not decided yet, R4 = major, R5 = minor
//	for each rule, last first, if it matches the device:
//	    deny:  if R3 shares a bit with the rule, return 0
//	    allow: clear the rule's bits from R3; if R3 is empty, return 1
//	return the default
func deviceProgram(defaultAllow bool, rules []deviceRule) ([]byte, error) {
	var b bpf.Builder
	b.Emit(
		bpf.LoadMem32(bpf.R2, bpf.R1, 0),
		bpf.Mov32Reg(bpf.R3, bpf.R2),
		bpf.Rsh32Imm(bpf.R3, 16),
		bpf.And32Imm(bpf.R2, 0xffff),
		bpf.LoadMem32(bpf.R4, bpf.R1, 4),
		bpf.LoadMem32(bpf.R5, bpf.R1, 8),
	)
	for i := len(rules) - 1; i >= 0; i-- {
		r := rules[i]
		next := fmt.Sprintf("rule%d_end", i)
		switch r.typ {
		case 'b':
			b.Emit(bpf.JNE32Imm(bpf.R2, devTypeBlock, next))
		case 'c':
			b.Emit(bpf.JNE32Imm(bpf.R2, devTypeChar, next))
		}
		// 32-bit jumps compare the low 32 bits, so majors and minors above
		// 2^31 are not sign-extended away.
		if r.major != wildcard {
			b.Emit(bpf.JNE32Imm(bpf.R4, int32(uint32(r.major)), next))
		}
		if r.minor != wildcard {
			b.Emit(bpf.JNE32Imm(bpf.R5, int32(uint32(r.minor)), next))
		}
		if r.allow {
			if r.access != accAll {
				b.Emit(
					bpf.And32Imm(bpf.R3, int32(^r.access&accAll)),
					bpf.JNE32Imm(bpf.R3, 0, next),
				)
			}
			b.Emit(bpf.Mov64Imm(bpf.R0, 1), bpf.Exit())
		} else {
			if r.access != accAll {
				b.Emit(
					bpf.Mov32Reg(bpf.R6, bpf.R3),
					bpf.And32Imm(bpf.R6, int32(r.access)),
					bpf.JEQ32Imm(bpf.R6, 0, next),
				)
			}
			b.Emit(bpf.Mov64Imm(bpf.R0, 0), bpf.Exit())
		}
		b.Label(next)
	}
	ret := int32(0)
	if defaultAllow {
		ret = 1
	}
	b.Emit(bpf.Mov64Imm(bpf.R0, ret), bpf.Exit())
	return b.Resolve()
}
