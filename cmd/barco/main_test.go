package main

import "testing"

func TestCommandName(t *testing.T) {
	for _, tt := range []struct {
		args []string
		want string
	}{
		{[]string{"barco"}, ""},
		{[]string{"barco", "run", "c1"}, "run"},
		{[]string{"barco", "--root", "/r", "--log", "l", "--log-format", "json", "state", "c1"}, "state"},
		{[]string{"barco", "-root", "/r", "list"}, "list"},
		{[]string{"barco", "--root=/r", "--debug", "--systemd-cgroup", "delete", "-f", "c1"}, "delete"},
		{[]string{"barco", "--criu", "/usr/sbin/criu", "--rootless", "true", "checkpoint", "c1"}, "checkpoint"},
		{[]string{"barco", "--rootless=false", "list"}, "list"},
		{[]string{"barco", "--debug", "--", "run"}, ""},
		{[]string{"barco", "--help"}, ""},
		{[]string{"barco", "help", "run"}, "help"},
		{[]string{"barco", "--root"}, ""},
	} {
		if got := commandName(tt.args); got != tt.want {
			t.Errorf("commandName(%q) = %q, want %q", tt.args, got, tt.want)
		}
	}
}

// A named command is built alone; anything else gets every command, so
// that help and "no such command" see them all.
func TestCommandsBuilt(t *testing.T) {
	g := &globals{}
	all := commands(g, "")
	if len(all) != 17 {
		t.Fatalf("%d commands, want 17", len(all))
	}
	for _, c := range all {
		one := commands(g, c.Name)
		if len(one) != 1 || one[0].Name != c.Name {
			t.Errorf("commands(%q) built %d commands", c.Name, len(one))
		}
	}
	if n := len(commands(g, "help")); n != len(all) {
		t.Errorf("help gets %d commands, want %d", n, len(all))
	}
}
