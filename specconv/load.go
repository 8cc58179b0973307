package specconv

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"unicode/utf8"

	"github.com/mailru/easyjson/jlexer"
	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/barco-oci/barco/internal/sysfile"
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
	data, err := sysfile.ReadRegular(name)
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
// A Linux runtime never uses Solaris, Windows, VM, z/OS or FreeBSD, and
// their dozens of types would only add to the decoder.
//
//easyjson:json
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

// decodeSpec decodes config.json.
//
// The decoder is generated (load_easyjson.go, `make generate`): encoding/json
// builds its decoders by reflection on first use in each process, which was
// over a millisecond of every create. Like crun's, the generated decoder
// matches keys exactly; encoding/json also takes "Process" for "process".
// Input that is not valid JSON or UTF-8 goes to encoding/json: the
// generated decoder skips unknown keys without looking into them, and it
// keeps bytes that encoding/json replaces with U+FFFD. So does whatever
// the generated decoder refuses; encoding/json's verdict stands, and its
// errors name the line and column.
//
// A config with a section of another platform is decoded into specs.Spec
// whole, so that such a section is checked as strictly as before.
func decodeSpec(data []byte) (*specs.Spec, error) {
	var c config
	if !utf8.Valid(data) || !json.Valid(data) || !decodeGenerated(data, &c) {
		var std stdConfig
		if err := json.Unmarshal(data, &std); err != nil {
			return nil, err
		}
		c = config(std)
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

// stdConfig is config for encoding/json. Its own type has no methods: a
// type handed to encoding/json keeps all its methods in the binary, and
// config's include the generated encoder, which barco never uses.
type stdConfig config

// decodeGenerated decodes data into c with the generated decoder and
// reports whether it succeeded.
func decodeGenerated(data []byte, c *config) bool {
	l := jlexer.Lexer{Data: data}
	c.UnmarshalEasyJSON(&l)
	return l.Error() == nil
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
