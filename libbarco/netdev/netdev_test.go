package netdev

import (
	"encoding/binary"
	"strings"
	"testing"
)

func TestCheckName(t *testing.T) {
	for _, tt := range []struct {
		name     string
		template bool
		wantErr  string
	}{
		{"eth0", false, ""},
		{"abcdefghijklmno", false, ""}, // 15 bytes, the longest
		{"abcdefghijklmnop", false, "longer than 15 bytes"},
		{"", false, "empty"},
		{".", false, "not allowed"},
		{"..", true, "not allowed"},
		{"a/b", false, "white space"},
		{"a:b", false, "white space"},
		{"a b", true, "white space"},
		{"net%d", true, ""},
		{"net%d", false, "only a container name"},
		{"n%d%d", true, "only one"},
		{"n%s", true, "only a container name"},
	} {
		err := CheckName(tt.name, tt.template)
		if tt.wantErr == "" && err != nil || tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)) {
			t.Errorf("CheckName(%q, %v) = %v, want %q", tt.name, tt.template, err, tt.wantErr)
		}
	}
}

func TestParseAttrs(t *testing.T) {
	var m message
	m.addString(3, "eth0") // 4+5 bytes, padded to 12
	m.addUint32(0x801c, 7) // the nested flag is not part of the type
	m.addAttr(9, nil)
	// A malformed last attribute (length past the end) ends the list.
	bad := make([]byte, 4)
	binary.NativeEndian.PutUint16(bad, 40)
	got := parseAttrs(append(m.attrs, bad...))
	if len(got) != 3 {
		t.Fatalf("%d attributes, want 3: %v", len(got), got)
	}
	if got[0].typ != 3 || cString(got[0].val) != "eth0" {
		t.Errorf("first attribute %d %q", got[0].typ, got[0].val)
	}
	if got[1].typ != 0x1c || binary.NativeEndian.Uint32(got[1].val) != 7 {
		t.Errorf("second attribute %#x %v", got[1].typ, got[1].val)
	}
	if got[2].typ != 9 || len(got[2].val) != 0 {
		t.Errorf("third attribute %d %v", got[2].typ, got[2].val)
	}
}
