package systemd

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	sddbus "github.com/coreos/go-systemd/v22/dbus"
	"github.com/godbus/dbus/v5"
)

// ErrUnitExists is returned by Apply when a loaded unit has the
// container's unit name: another container (or anything else) uses it.
var ErrUnitExists = errors.New("a unit of that name is loaded already")

// jobTimeout bounds each D-Bus exchange with systemd, including the wait
// for a start or stop job to finish.
const jobTimeout = 30 * time.Second

// D-Bus errors systemd answers that callers branch on.
const (
	errNoSuchUnit = "org.freedesktop.systemd1.NoSuchUnit"
	errUnitExists = "org.freedesktop.systemd1.UnitExists"
)

func newProp(name string, value any) sddbus.Property {
	return sddbus.Property{Name: name, Value: dbus.MakeVariant(value)}
}

// connect opens a connection to the system bus, or to the session bus of the
// calling user for a user manager. The addresses come from
// DBUS_SYSTEM_BUS_ADDRESS and DBUS_SESSION_BUS_ADDRESS (or
// $XDG_RUNTIME_DIR/bus) when set, else from the D-Bus defaults.
func (m *Manager) connect(ctx context.Context) (*sddbus.Conn, error) {
	if m.User {
		c, err := sddbus.NewUserConnectionContext(ctx)
		if err != nil {
			return nil, fmt.Errorf("connect to the user's systemd (session bus): %w", err)
		}
		return c, nil
	}
	c, err := sddbus.NewSystemConnectionContext(ctx)
	if err != nil {
		return nil, fmt.Errorf("connect to systemd (system bus): %w", err)
	}
	return c, nil
}

func isDBusError(err error, name string) bool {
	var e dbus.Error
	return errors.As(err, &e) && e.Name == name
}

// startUnit starts the transient unit and waits for its job. A unit of the
// same name left failed by an earlier container blocks the name until it is
// reset, so that is tried once.
func startUnit(ctx context.Context, conn *sddbus.Conn, name string, props []sddbus.Property) error {
	for retried := false; ; retried = true {
		ch := make(chan string, 1)
		_, err := conn.StartTransientUnitContext(ctx, name, "replace", props, ch)
		if err != nil {
			if isDBusError(err, errUnitExists) {
				if !retried && conn.ResetFailedUnitContext(ctx, name) == nil {
					continue
				}
				return fmt.Errorf("start unit %s: %w", name, ErrUnitExists)
			}
			return fmt.Errorf("start unit %s: %w", name, err)
		}
		if err := waitJob(ctx, ch); err != nil {
			_ = conn.ResetFailedUnitContext(ctx, name)
			return fmt.Errorf("start unit %s: %w", name, err)
		}
		return nil
	}
}

// stopUnit stops the unit and waits for its job. A unit systemd does not
// know (any more) is stopped already.
func stopUnit(ctx context.Context, conn *sddbus.Conn, name string) error {
	ch := make(chan string, 1)
	_, err := conn.StopUnitContext(ctx, name, "replace", ch)
	if err == nil {
		err = waitJob(ctx, ch)
	}
	// A failed unit stays loaded, holding its name, until it is reset.
	if resetErr := conn.ResetFailedUnitContext(ctx, name); resetErr != nil && !isDBusError(resetErr, errNoSuchUnit) && err == nil {
		err = resetErr
	}
	if err != nil && !isDBusError(err, errNoSuchUnit) {
		return fmt.Errorf("stop unit %s: %w", name, err)
	}
	return nil
}

// waitJob waits for the result of a job; systemd reports "done" on success
// and "canceled", "timeout", "failed", "dependency" or "skipped" otherwise.
func waitJob(ctx context.Context, ch <-chan string) error {
	select {
	case res := <-ch:
		if res != "done" {
			return fmt.Errorf("job %s", res)
		}
		return nil
	case <-ctx.Done():
		return fmt.Errorf("job did not finish: %w", ctx.Err())
	}
}

// controlGroup asks systemd for the unit's cgroup, relative to the cgroup2
// root (of systemd's cgroup namespace, which is the caller's).
func controlGroup(ctx context.Context, conn *sddbus.Conn, u Unit) (string, error) {
	typ := "Scope"
	if u.IsSlice() {
		typ = "Slice"
	}
	p, err := conn.GetUnitTypePropertyContext(ctx, u.Name, typ, "ControlGroup")
	if err != nil {
		return "", fmt.Errorf("cgroup of unit %s: %w", u.Name, err)
	}
	path, ok := p.Value.Value().(string)
	if !ok || !strings.HasPrefix(path, "/") || path == "/" {
		return "", fmt.Errorf("cgroup of unit %s: systemd reports %s", u.Name, p.Value.String())
	}
	return path, nil
}

// systemdVersion returns the manager's major version, or 0 when it cannot be
// read: then only the properties every supported systemd knows are used.
func systemdVersion(conn *sddbus.Conn) int {
	s, err := conn.GetManagerProperty("Version")
	if err != nil {
		return 0
	}
	return parseVersion(s)
}

// parseVersion extracts the major version from systemd's Version property
// as go-systemd renders it: a quoted string such as "\"252.39-1~deb12u2\""
// or "\"v256-rc1\"".
func parseVersion(s string) int {
	if u, err := strconv.Unquote(s); err == nil {
		s = u
	}
	s = strings.TrimPrefix(s, "v")
	end := 0
	for end < len(s) && s[end] >= '0' && s[end] <= '9' {
		end++
	}
	v, err := strconv.Atoi(s[:end])
	if err != nil {
		return 0
	}
	return v
}
