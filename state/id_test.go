package state

import (
	"errors"
	"strings"
	"testing"
)

func TestValidateID(t *testing.T) {
	long := strings.Repeat("a", MaxIDLen)
	tests := []struct {
		name    string
		id      string
		wantErr string // substring of the error; empty means valid
	}{
		{name: "letters", id: "abc"},
		{name: "all allowed bytes", id: "Az09_+-.x"},
		{name: "inner dots", id: "a..b"},
		{name: "trailing dot", id: "a."},
		{name: "max length", id: long},
		{name: "uuid", id: "3f2504e0-4f89-11d3-9a0c-0305e82c3301"},
		{name: "empty", id: "", wantErr: "must not be empty"},
		{name: "dot", id: ".", wantErr: `".": must not start with '.'`},
		{name: "dotdot", id: "..", wantErr: "must not start with '.'"},
		{name: "hidden", id: ".x", wantErr: "must not start with '.'"},
		{name: "traversal", id: "../x", wantErr: `invalid container id "../x": only letters, digits, '_', '+', '-', '.' allowed`},
		{name: "slash", id: "a/b", wantErr: "only letters"},
		{name: "too long", id: long + "a", wantErr: "longer than 255 bytes"},
		{name: "space", id: "a b", wantErr: "only letters"},
		{name: "tab", id: "a\tb", wantErr: "only letters"},
		{name: "nul", id: "a\x00b", wantErr: "only letters"},
		{name: "unicode", id: "café", wantErr: "only letters"},
		{name: "colon", id: "a:b", wantErr: "only letters"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := ValidateID(tt.id)
			if tt.wantErr == "" {
				if err != nil {
					t.Fatalf("ValidateID(%q) = %v, want nil", tt.id, err)
				}
				return
			}
			if err == nil {
				t.Fatalf("ValidateID(%q) = nil, want error containing %q", tt.id, tt.wantErr)
			}
			if !errors.Is(err, ErrInvalidID) {
				t.Errorf("error %v does not match ErrInvalidID", err)
			}
			if !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("error %q does not contain %q", err, tt.wantErr)
			}
		})
	}
}

func TestValidateIDTruncatesLongIDInMessage(t *testing.T) {
	id := strings.Repeat("x", 10000)
	err := ValidateID(id)
	if err == nil {
		t.Fatal("want error for a 10000-byte id")
	}
	if len(err.Error()) > 200 {
		t.Errorf("message is %d bytes long, want the id truncated: %q", len(err.Error()), err)
	}
	if !strings.Contains(err.Error(), `"`+strings.Repeat("x", 64)+`..."`) {
		t.Errorf("message %q does not hold the id cut to 64 bytes", err)
	}
}
