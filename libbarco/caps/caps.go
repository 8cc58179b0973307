// Package caps applies the container process's capability sets.
//
// Capabilities are per thread: the caller must run on the OS thread that
// will execve the container process (the init locks its main thread).
package caps

import (
	"fmt"
	"log/slog"
	"strings"

	"github.com/moby/sys/capability"

	"github.com/barco-oci/barco/libbarco/configs"
)

// Known returns the lower-case names (without "CAP_") of every capability
// this build knows, in kernel order.
func Known() []string {
	var names []string
	for _, c := range capability.ListKnown() {
		names = append(names, c.String())
	}
	return names
}

// Sets is a capability configuration resolved to numbers, with names the
// running kernel lacks left out.
type Sets struct {
	bounding, effective, inheritable, permitted, ambient []capability.Cap
}

// Resolve maps names to capabilities. Names unknown to this build are an
// error (specconv already rejects them); names newer than the running
// kernel are skipped with a debug log, as runc does.
func Resolve(c *configs.Capabilities, log *slog.Logger) (*Sets, error) {
	last, err := capability.LastCap()
	if err != nil {
		return nil, fmt.Errorf("read last capability: %w", err)
	}
	byName := map[string]capability.Cap{}
	for _, cp := range capability.ListKnown() {
		byName[cp.String()] = cp
	}
	conv := func(set string, names []string) ([]capability.Cap, error) {
		var out []capability.Cap
		for _, n := range names {
			cp, ok := byName[strings.ToLower(strings.TrimPrefix(strings.ToUpper(n), "CAP_"))]
			if !ok {
				return nil, fmt.Errorf("process.capabilities.%s: unknown capability %q", set, n)
			}
			if cp > last {
				if log != nil {
					log.Debug("capability not supported by the kernel, ignored", "set", set, "capability", n)
				}
				continue
			}
			out = append(out, cp)
		}
		return out, nil
	}
	var s Sets
	if s.bounding, err = conv("bounding", c.Bounding); err != nil {
		return nil, err
	}
	if s.effective, err = conv("effective", c.Effective); err != nil {
		return nil, err
	}
	if s.inheritable, err = conv("inheritable", c.Inheritable); err != nil {
		return nil, err
	}
	if s.permitted, err = conv("permitted", c.Permitted); err != nil {
		return nil, err
	}
	if s.ambient, err = conv("ambient", c.Ambient); err != nil {
		return nil, err
	}
	return &s, nil
}

// DropBounding reduces the bounding set. It needs CAP_SETPCAP, so it runs
// before the process changes to the container user.
func (s *Sets) DropBounding() error {
	// Every set is cleared and rebuilt, so the current values need not be
	// loaded (loading reads /proc, which the container may not mount).
	c, err := capability.NewPid2(0)
	if err != nil {
		return err
	}
	c.Clear(capability.BOUNDING)
	c.Set(capability.BOUNDING, s.bounding...)
	if err := c.Apply(capability.BOUNDS); err != nil {
		return fmt.Errorf("drop bounding capabilities: %w", err)
	}
	return nil
}

// Apply sets the effective, permitted, inheritable and ambient sets. It runs
// after setuid (with PR_SET_KEEPCAPS set before it), as the last step
// before execve that touches credentials.
func (s *Sets) Apply() error {
	c, err := capability.NewPid2(0)
	if err != nil {
		return err
	}
	c.Clear(capability.CAPS | capability.AMBIENT)
	// A capability outside the bounding set cannot be granted; runtime-spec
	// asks to go on without it (the runtime warned about it at create).
	c.Set(capability.EFFECTIVE, inBounding(s.effective)...)
	c.Set(capability.PERMITTED, inBounding(s.permitted)...)
	c.Set(capability.INHERITABLE, inBounding(s.inheritable)...)
	c.Set(capability.AMBIENT, inBounding(s.ambient)...)
	if err := c.Apply(capability.CAPS | capability.AMBS); err != nil {
		return fmt.Errorf("apply capabilities: %w", err)
	}
	return nil
}

func inBounding(caps []capability.Cap) []capability.Cap {
	var out []capability.Cap
	for _, c := range caps {
		if ok, err := capability.GetBound(c); err == nil && ok {
			out = append(out, c)
		}
	}
	return out
}

// Ungrantable lists the names of c that the calling process's bounding set
// lacks: a process it starts cannot have them either.
func Ungrantable(c *configs.Capabilities) []string {
	if c == nil {
		return nil
	}
	seen := map[string]bool{}
	var out []string
	for _, set := range [][]string{c.Bounding, c.Effective, c.Permitted, c.Inheritable, c.Ambient} {
		for _, n := range set {
			name := strings.ToLower(strings.TrimPrefix(strings.ToUpper(n), "CAP_"))
			if seen[name] {
				continue
			}
			seen[name] = true
			for _, cp := range capability.ListKnown() {
				if cp.String() != name {
					continue
				}
				if ok, err := capability.GetBound(cp); err == nil && !ok {
					out = append(out, n)
				}
			}
		}
	}
	return out
}

// Masks are capability sets as bit masks: bit n is capability n.
type Masks struct {
	LastCap                                              int
	Bounding, Effective, Permitted, Inheritable, Ambient uint64
}

// Masks returns the sets as bit masks with the kernel's last capability,
// for a loader outside Go. The sets other than the bounding one must still
// be trimmed to the bounding set in force when they are applied, as Apply
// does.
func (s *Sets) Masks() (Masks, error) {
	last, err := capability.LastCap()
	if err != nil {
		return Masks{}, fmt.Errorf("read last capability: %w", err)
	}
	mask := func(cs []capability.Cap) uint64 {
		var m uint64
		for _, c := range cs {
			m |= 1 << uint(c)
		}
		return m
	}
	return Masks{
		LastCap:     int(last),
		Bounding:    mask(s.bounding),
		Effective:   mask(s.effective),
		Permitted:   mask(s.permitted),
		Inheritable: mask(s.inheritable),
		Ambient:     mask(s.ambient),
	}, nil
}
