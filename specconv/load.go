package specconv

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// LoadSpec reads <bundle>/config.json. Unknown fields are accepted: newer
// spec versions add fields and runtimes are expected to ignore them.
func LoadSpec(bundle string) (*specs.Spec, error) {
	st, err := os.Stat(bundle)
	if err != nil {
		return nil, fmt.Errorf("bundle %s: %w", bundle, unwrapPath(err))
	}
	if !st.IsDir() {
		return nil, fmt.Errorf("bundle %s: not a directory", bundle)
	}
	name := filepath.Join(bundle, "config.json")
	data, err := os.ReadFile(name)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", name, unwrapPath(err))
	}
	spec, err := decodeSpec(data)
	if err != nil {
		return nil, fmt.Errorf("%s: invalid JSON: %s", name, describeJSONError(data, err))
	}
	return spec, nil
}

// config is specs.Spec with the sections of the other platforms left raw.
// encoding/json prepares an encoder for every type under the one it
// decodes into, and Solaris, Windows, VM, z/OS and FreeBSD bring dozens of
// types a Linux runtime never uses: over a millisecond of a create here.
type config struct {
	Version     string            `json:"ociVersion"`
	Process     *specs.Process    `json:"process,omitempty"`
	Root        *specs.Root       `json:"root,omitempty"`
	Hostname    string            `json:"hostname,omitempty"`
	Domainname  string            `json:"domainname,omitempty"`
	Mounts      []specs.Mount     `json:"mounts,omitempty"`
	Hooks       *specs.Hooks      `json:"hooks,omitempty"`
	Annotations map[string]string `json:"annotations,omitempty"`
	Linux       *specs.Linux      `json:"linux,omitempty"`

	Solaris json.RawMessage `json:"solaris,omitempty"`
	Windows json.RawMessage `json:"windows,omitempty"`
	VM      json.RawMessage `json:"vm,omitempty"`
	ZOS     json.RawMessage `json:"zos,omitempty"`
	FreeBSD json.RawMessage `json:"freebsd,omitempty"`
}

// decodeSpec decodes config.json. One that has a section of another
// platform is decoded into specs.Spec whole, so that such a section is
// checked as strictly as before.
func decodeSpec(data []byte) (*specs.Spec, error) {
	var c config
	if err := json.Unmarshal(data, &c); err != nil {
		return nil, err
	}
	if c.Solaris != nil || c.Windows != nil || c.VM != nil || c.ZOS != nil || c.FreeBSD != nil {
		var spec specs.Spec
		if err := json.Unmarshal(data, &spec); err != nil {
			return nil, err
		}
		return &spec, nil
	}
	return &specs.Spec{
		Version:     c.Version,
		Process:     c.Process,
		Root:        c.Root,
		Hostname:    c.Hostname,
		Domainname:  c.Domainname,
		Mounts:      c.Mounts,
		Hooks:       c.Hooks,
		Annotations: c.Annotations,
		Linux:       c.Linux,
	}, nil
}

// unwrapPath drops the "stat <path>" prefix of an *os.PathError because the
// callers already name the path, while keeping the errno for errors.Is.
func unwrapPath(err error) error {
	var pe *os.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}

// describeJSONError adds the line and column to decoder errors that carry
// only a byte offset, which is useless to someone editing the file.
func describeJSONError(data []byte, err error) string {
	var offset int64 = -1
	var syn *json.SyntaxError
	var typ *json.UnmarshalTypeError
	switch {
	case errors.As(err, &syn):
		offset = syn.Offset
	case errors.As(err, &typ):
		offset = typ.Offset
	}
	if offset < 0 || offset > int64(len(data)) {
		return err.Error()
	}
	before := data[:offset]
	line := bytes.Count(before, []byte("\n")) + 1
	col := int(offset) - (bytes.LastIndexByte(before, '\n') + 1)
	return fmt.Sprintf("line %d, column %d (offset %d): %v", line, col, offset, err)
}
